"""The engine adapters on real engines: detection, index lifecycle, bulk, mget, msearch, errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import EngineUnavailable, IndexNotFound

from .cli import tandem

# What detection must find on each line of the matrix (docs/engines.md).
EXPECTED: dict[str, dict[str, Any]] = {
    "opensearch-3.6.0": {
        "build_type": "zip",
        "license": None,
        "dense": True,
        "knn_engines": ("lucene",),
        "rank_features": True,
        "sparse_vector": True,
        "neural_sparse": True,
        "hybrid_query": True,
        "normalization_techniques": ("min_max", "l2", "z_score"),
        "rrf_pipeline": True,
        "retrievers": (),
    },
    "opensearch-2.19.6": {
        "build_type": "zip",
        "license": None,
        "dense": True,
        "knn_engines": ("lucene",),
        "rank_features": True,
        "sparse_vector": False,
        "neural_sparse": True,
        "hybrid_query": True,
        "normalization_techniques": ("min_max", "l2"),
        "rrf_pipeline": True,
        "retrievers": (),
    },
    "elasticsearch-9.5.4": {
        "build_type": "zip",
        "license": "basic",
        "dense": True,
        "knn_engines": (),
        "rank_features": False,
        "sparse_vector": True,
        "neural_sparse": False,
        "hybrid_query": False,
        "normalization_techniques": (),
        "rrf_pipeline": False,
        "retrievers": (),
    },
}

DOCS = [("1", {"n": 1, "text": "red apple"}), ("2", {"n": "abc"}), ("3", {"n": 3, "text": "red"})]


@pytest.fixture(scope="module")
def adapter(engine: EngineHandle) -> Iterator[EngineAdapter]:
    opened = connect(engine.url)
    yield opened
    opened.close()


@pytest.fixture
def filled(adapter: EngineAdapter, index_name: str) -> str:
    """``index_name`` holding documents 1 and 3 (document 2 is refused by the mapping)."""
    adapter.create_index(index_name, {"mappings": {"properties": {"n": {"type": "integer"}}}})
    operations: list[dict[str, Any]] = []
    for doc_id, source in DOCS:
        operations += [{"index": {"_index": index_name, "_id": doc_id}}, source]
    adapter.bulk(operations, refresh=True)
    return index_name


def test_connect_detects_capabilities(engine: EngineHandle, adapter: EngineAdapter) -> None:
    caps = adapter.capabilities
    assert (adapter.kind, caps.kind, caps.version_text) == (
        engine.kind,
        engine.kind,
        engine.version,
    )
    expected = EXPECTED.get(engine.name)
    if expected is None:
        pytest.skip(f"no recorded expectations for {engine.name}")
    assert {name: getattr(caps, name) for name in expected} == expected


def test_index_lifecycle(adapter: EngineAdapter, index_name: str) -> None:
    assert not adapter.index_exists(index_name)
    adapter.create_index(index_name, {"mappings": {"properties": {"text": {"type": "text"}}}})
    assert adapter.index_exists(index_name)
    adapter.delete_index(index_name)
    assert not adapter.index_exists(index_name)
    adapter.delete_index(index_name)  # already gone: not an error


def test_bulk_returns_one_result_per_document(adapter: EngineAdapter, index_name: str) -> None:
    adapter.create_index(index_name, {"mappings": {"properties": {"n": {"type": "integer"}}}})
    operations: list[dict[str, Any]] = []
    for doc_id, source in DOCS:
        operations += [{"create": {"_index": index_name, "_id": doc_id}}, source]
    results = adapter.bulk(operations, refresh=True)
    assert [(r.id, r.status) for r in results] == [("1", 201), ("2", 400), ("3", 201)]
    bad = results[1]
    assert bad.error_type in ("mapper_parsing_exception", "document_parsing_exception")
    assert bad.reason is not None and "[n]" in bad.reason
    assert not bad.ok and not bad.retryable
    assert adapter.count(index_name) == 2


def test_existing_ids(adapter: EngineAdapter, filled: str) -> None:
    assert adapter.existing_ids(filled, ["1", "2", "3", "4"]) == {"1", "3"}
    assert adapter.existing_ids(filled, []) == set()


def test_msearch_in_one_request(adapter: EngineAdapter, filled: str) -> None:
    first, second = adapter.msearch(
        [
            (filled, {"query": {"match": {"text": "apple"}}}),
            (filled, {"query": {"match_all": {}}, "size": 10}),
        ]
    )
    assert [h["_id"] for h in first["hits"]["hits"]] == ["1"]
    assert sorted(h["_id"] for h in second["hits"]["hits"]) == ["1", "3"]


def test_msearch_keeps_a_failed_search(adapter: EngineAdapter, filled: str) -> None:
    ok, failed = adapter.msearch(
        [(filled, {"query": {"match_all": {}}}), (f"{filled}-missing", {"size": 1})]
    )
    assert "hits" in ok
    assert failed["status"] == 404 and failed["error"]["type"] == "index_not_found_exception"


def test_unknown_index_raises_index_not_found(adapter: EngineAdapter, index_name: str) -> None:
    with pytest.raises(IndexNotFound, match=index_name) as caught:
        adapter.search(index_name, {"query": {"match_all": {}}})
    assert caught.value.status == 404
    with pytest.raises(IndexNotFound):
        adapter.existing_ids(index_name, ["1"])


def test_engines_info_json(engine: EngineHandle) -> None:
    result = tandem("engines", "info", engine.url, "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["kind"], info["version"]) == (engine.kind.value, engine.version)
    expected = EXPECTED.get(engine.name)
    if expected is not None:
        assert info["sparse_vector"] == expected["sparse_vector"]
        assert info["knn_engines"] == list(expected["knn_engines"])
        assert info["license"] == expected["license"]


def test_engines_info_text(engine: EngineHandle) -> None:
    result = tandem("engines", "info", engine.url, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{engine.kind.label} {engine.version}" in result.stdout
    assert "hybrid_query" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_listening_is_unavailable() -> None:
    url = f"http://tandem:secret@127.0.0.1:{_free_port()}"
    with pytest.raises(EngineUnavailable, match=r"tandem:\*\*\*@") as caught:
        connect(url, timeout=2)
    assert "secret" not in str(caught.value)
    result = tandem("engines", "info", url, timeout=60)
    assert result.returncode == 2
    assert "no engine answers" in result.stderr and "secret" not in result.stderr

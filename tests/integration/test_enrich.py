"""``tandem enrich`` on an index the user's own application wrote, on every engine.

The index is created and filled with the engine's own Python client (an English
analyzer, a keyword field, a nested object); ``tandem enrich`` runs as a user runs
it, in a subprocess, and the tests read back what the engine stores.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.kinds import EngineKind

from .cli import tandem
from .user_index import MARKER, bulk, create_user_index, scifact_docs, stale, stored

pytestmark = pytest.mark.integration


@pytest.fixture
def names(engine_client: Any) -> Iterator[list[str]]:
    """Index and alias names a test creates; all deleted afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        found = engine_client.indices.get(index=f"{name}*", ignore_unavailable=True)
        for index in dict(found):
            engine_client.indices.delete(index=index, ignore_unavailable=True)


def _fresh(names: list[str]) -> str:
    name = f"user-{uuid.uuid4().hex[:10]}"
    names.append(name)
    return name


def _enrich(engine: EngineHandle, *args: str) -> dict[str, Any]:
    done = tandem("enrich", "--engine", engine.url, "--json", *args)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_in_place_gives_every_document_vectors_and_keeps_the_users_mapping(
    engine: EngineHandle, engine_client: Any, names: list[str]
) -> None:
    index = _fresh(names)
    create_user_index(engine_client, engine, index, knn=True)
    docs = scifact_docs(40)
    docs.append({"_id": "empty", "title": "", "body": "   ", "tag": "t"})
    docs.append({"_id": "number", "title": 12345, "body": "a number for a title", "tag": "t"})
    bulk(engine_client, engine, index, docs)

    report = _enrich(engine, "--index", index, "--text", "title,body")

    assert report["strategy"] == "in-place"
    assert report["enriched"] == 40
    assert report["no_text"] == ["empty"]
    assert [b["id"] for b in report["bad_text"]] == ["number"]
    assert "'title' holds int" in report["bad_text"][0]["reason"]
    held = stored(engine_client, index)
    assert len(held) == 42
    assert stale({k: v for k, v in held.items() if k not in ("empty", "number")}) == []
    assert len(held[docs[0]["_id"]]["embedding"]) == 384
    assert held[docs[0]["_id"]]["sparse"]
    assert held[docs[0]["_id"]]["authors"] == [{"name": "author-0"}]
    mapping = engine_client.indices.get_mapping(index=index)
    props = dict(mapping)[index]["mappings"]["properties"]
    assert props["title"]["analyzer"] == "house_english"
    assert props["authors"]["type"] == "nested"
    assert MARKER in props and "embedding" in props and "sparse" in props

    # A rerun encodes nothing; an edited text is encoded again, alone.
    again = _enrich(engine, "--index", index, "--text", "title,body")
    assert (again["encoded"], again["unchanged"]) == (0, 40)
    edited = docs[3]["_id"]
    engine_client.update(
        index=index, id=edited, body={"doc": {"body": "an edited abstract"}}, refresh=True
    )
    third = _enrich(engine, "--index", index, "--text", "title,body")
    assert (third["encoded"], third["enriched"], third["unchanged"]) == (1, 1, 39)
    assert stale({k: v for k, v in stored(engine_client, index).items() if k == edited}) == []

    # Another model: everything is encoded again, and the marker names it.
    sparse_only = _enrich(engine, "--index", index, "--text", "title,body", "--dense", "none")
    assert sparse_only["encoded"] == 40
    marker = stored(engine_client, index)[edited][MARKER]
    assert marker["models"] == "sparse=splade-tiny"


def test_auto_copies_where_hnsw_cannot_be_added_and_moves_the_alias(
    engine: EngineHandle, engine_client: Any, names: list[str]
) -> None:
    index = _fresh(names)
    alias = f"{index}-live"
    create_user_index(engine_client, engine, index)
    docs = scifact_docs(30)
    docs.append({"_id": "empty", "title": "", "tag": "t"})
    bulk(engine_client, engine, index, docs)
    engine_client.indices.put_alias(index=index, name=alias)

    report = _enrich(engine, "--index", alias, "--text", "title,body")

    if engine.kind is EngineKind.ELASTICSEARCH:
        assert report["strategy"] == "in-place"
        return
    # OpenSearch: the index was created without index.knn, so a copy is needed.
    assert report["strategy"] == "reindex"
    target = report["target"]
    assert target == f"{index}-tandem-1"
    pointed = dict(engine_client.indices.get_alias(name=alias))
    assert list(pointed) == [target]
    assert engine_client.indices.exists(index=index), "the old index is kept"
    held = stored(engine_client, alias)
    assert len(held) == 31, "documents without text are copied too"
    assert "embedding" not in held["empty"]
    assert stale({k: v for k, v in held.items() if k != "empty"}) == []
    settings = dict(engine_client.indices.get_settings(index=target))[target]["settings"]
    assert settings["index"]["analysis"]["analyzer"]["house_english"]["type"] == "english"
    assert settings["index"]["knn"] == "true"
    knn = {"knn": {"embedding": {"vector": [0.1] * 384, "k": 3}}}
    hits = engine_client.search(index=alias, body={"size": 3, "query": knn})
    assert len(hits["hits"]["hits"]) == 3, "the copy's dense field is an HNSW field"


def test_reindex_asks_for_an_alias_when_the_application_uses_the_index_name(
    engine: EngineHandle, engine_client: Any, names: list[str]
) -> None:
    index = _fresh(names)
    create_user_index(engine_client, engine, index)
    bulk(engine_client, engine, index, scifact_docs(5))
    done = tandem(
        "enrich",
        "--engine",
        engine.url,
        "--index",
        index,
        "--text",
        "title,body",
        "--strategy",
        "reindex",
    )
    assert done.returncode == 2
    assert "--alias NAME" in done.stderr
    assert (
        MARKER
        not in dict(engine_client.indices.get_mapping(index=index))[index]["mappings"]["properties"]
    ), "nothing was written"


def test_in_place_without_knn_is_refused_on_opensearch_before_writing(
    opensearch_engine: EngineHandle, names: list[str]
) -> None:
    from tandem.integration.clients import client_for

    client = client_for(opensearch_engine)
    index = _fresh(names)
    create_user_index(client, opensearch_engine, index)
    try:
        bulk(client, opensearch_engine, index, scifact_docs(5))
        done = tandem(
            "enrich",
            "--engine",
            opensearch_engine.url,
            "--index",
            index,
            "--text",
            "title",
            "--strategy",
            "in-place",
        )
        assert done.returncode == 2
        assert "index.knn" in done.stderr and "--strategy reindex" in done.stderr
        props = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        assert "embedding" not in props
        # Sparse only needs no HNSW: that works in place.
        sparse = tandem(
            "enrich",
            "--engine",
            opensearch_engine.url,
            "--index",
            index,
            "--text",
            "title",
            "--strategy",
            "in-place",
            "--dense",
            "none",
            "--json",
        )
        assert sparse.returncode == 0, sparse.stderr
        assert json.loads(sparse.stdout.splitlines()[-1])["enriched"] == 5
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)


@pytest.mark.parametrize("case", ["missing", "read-only", "wrong-type", "not-text", "dry-run"])
def test_checks_come_before_any_write(
    case: str, engine: EngineHandle, engine_client: Any, names: list[str]
) -> None:
    index = _fresh(names)
    create_user_index(engine_client, engine, index, knn=True)
    bulk(engine_client, engine, index, scifact_docs(3))
    before = dict(engine_client.indices.get_mapping(index=index))[index]["mappings"]
    args = ["enrich", "--engine", engine.url, "--index", index, "--text", "title,body"]
    expected = ""
    if case == "missing":
        args[4] = f"{index}-nothing"
        expected = "does not exist"
    elif case == "read-only":
        engine_client.indices.put_settings(index=index, body={"index.blocks.write": True})
        expected = "read-only (index.blocks.write is true)"
    elif case == "wrong-type":
        args += ["--dense-field", "tag"]
        expected = "already has a field 'tag' of type 'keyword'"
    elif case == "not-text":
        args[6] = "title,year"
        expected = "mapped as 'integer', not text"
    else:
        args += ["--dry-run"]
    done = tandem(*args)
    if case == "read-only":
        engine_client.indices.put_settings(index=index, body={"index.blocks.write": False})
    if case == "dry-run":
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["strategy"] == "in-place"
    else:
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr
    after = dict(engine_client.indices.get_mapping(index=index))[index]["mappings"]
    assert after == before
    assert all(MARKER not in d for d in stored(engine_client, index).values())

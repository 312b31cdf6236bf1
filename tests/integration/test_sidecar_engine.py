"""Index, Search and Rewrite through the sidecar, on every engine of the matrix."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.connect import connect
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.server.embedded import EmbeddedSidecar

from .shared_data import scifact_corpus
from .sidecar import spec_json

DOCS = 40


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return scifact_corpus(DOCS)


@pytest.fixture(scope="module")
def indexed(
    engine_sidecar_client: TandemClient, corpus: list[dict[str, Any]]
) -> Iterator[tuple[str, Any]]:
    name = f"tandem-sidecar-{uuid.uuid4().hex[:10]}"
    body = engine_sidecar_client.create_index(spec_json(name, year="integer"))
    result = engine_sidecar_client.index_documents(name, corpus)
    yield name, (body, result)
    with contextlib.suppress(ClientError):
        engine_sidecar_client.delete_index(name)


def test_engine_health_and_info(
    engine_sidecar: EmbeddedSidecar, engine_sidecar_client: TandemClient, engine: EngineHandle
) -> None:
    for service in ("", "tandem.v1.SearchService", "tandem.v1.IndexService"):
        assert engine_sidecar_client.health(service) == "SERVING"
    (described,) = engine_sidecar_client.info()["engines"]
    assert described["kind"] == engine.kind.value
    assert described["version"] == engine.version
    assert described["reachable"] is True
    assert "dense" in described["features"]


def test_create_index_uses_the_model_dims_and_refuses_a_duplicate(
    indexed: tuple[str, Any], engine_sidecar_client: TandemClient
) -> None:
    name, (body, _) = indexed
    properties = body["mappings"]["properties"]
    dense = properties["embedding"]
    assert dense.get("dimension", dense.get("dims")) == 384
    with pytest.raises(ClientError) as again:
        engine_sidecar_client.create_index(spec_json(name, year="integer"))
    assert again.value.code is grpc.StatusCode.ALREADY_EXISTS


def test_index_documents_gives_one_result_per_document(
    indexed: tuple[str, Any], engine: EngineHandle, corpus: list[dict[str, Any]]
) -> None:
    name, (_, result) = indexed
    assert result.indexed == DOCS and result.failed == 0
    assert [r[0] for r in result.results] == [d["_id"] for d in corpus]
    assert {r[1] for r in result.results} == {"indexed"}
    adapter = connect(engine.url)
    try:
        assert adapter.count(name) == DOCS
    finally:
        adapter.close()


def test_index_documents_reports_bad_documents_and_keeps_the_rest(
    indexed: tuple[str, Any], engine_sidecar_client: TandemClient, corpus: list[dict[str, Any]]
) -> None:
    name, _ = indexed
    docs = [
        {"_id": corpus[0]["_id"], "title": corpus[0]["title"], "text": corpus[0]["text"]},
        {"_id": "no-text", "title": "", "text": ""},
        {"_id": "bad-year", "text": "a valid text", "year": "not a number"},
        {"_id": "", "text": "a document without an id"},
    ]
    result = engine_sidecar_client.index_documents(name, docs, resume=True)
    statuses = [(r[0], r[1]) for r in result.results]
    assert statuses == [
        (corpus[0]["_id"], "skipped"),
        ("no-text", "failed"),
        ("bad-year", "failed"),
        ("", "failed"),
    ]
    reasons = {r[0]: r[2] for r in result.results}
    assert "text is empty" in reasons["no-text"]
    assert "year" in reasons["bad-year"]  # the engine's mapping error, passed on
    assert "id is empty" in reasons[""]
    assert (result.indexed, result.skipped, result.failed) == (0, 1, 3)


@pytest.mark.parametrize("method", ["bm25", "dense", "sparse", "rrf", "linear"])
def test_search_finds_a_document_by_its_title(
    indexed: tuple[str, Any],
    engine_sidecar_client: TandemClient,
    corpus: list[dict[str, Any]],
    method: str,
) -> None:
    name, _ = indexed
    target = corpus[5]
    found = engine_sidecar_client.search(
        name,
        target["title"],
        SearchOptions(method=method, size=5, explain=True),  # type: ignore[arg-type]
    )
    assert found.hits[0].id == target["_id"]
    assert len(found.hits) == 5
    assert found.metadata.engine_ms > 0 and found.metadata.total_ms > 0
    if method in ("rrf", "linear"):
        assert set(found.hits[0].sources) <= {"bm25", "dense", "sparse"}
        assert len(found.hits[0].sources) >= 2
        # metadata.tokens counts texts encoded: the query cache may answer a repeat
        # (test_query_cache.py checks both cases).


def test_search_filters_pagination_and_explain(
    indexed: tuple[str, Any], engine_sidecar_client: TandemClient
) -> None:
    name, _ = indexed
    query = "cells and proteins in disease"
    options = SearchOptions(size=4, filters=({"range": {"year": {"gte": 2010}}},), explain=True)
    page1 = engine_sidecar_client.search(name, query, options).hits
    page2 = engine_sidecar_client.search(
        name, query, SearchOptions(size=4, start=4, filters=options.filters, explain=True)
    ).hits
    both = engine_sidecar_client.search(
        name, query, SearchOptions(size=8, filters=options.filters, explain=True)
    ).hits
    assert [h.id for h in page1 + page2] == [h.id for h in both]
    assert all(h.sources for h in both)
    plain = engine_sidecar_client.search(name, query, SearchOptions(size=4, mode="sidecar"))
    assert all(not h.sources for h in plain.hits)


@pytest.mark.parametrize("mode", ["native", "sidecar"])
def test_search_returns_the_stored_fields_asked_for(
    indexed: tuple[str, Any],
    engine_sidecar_client: TandemClient,
    corpus: list[dict[str, Any]],
    engine: EngineHandle,
    mode: str,
) -> None:
    name, _ = indexed
    query = "cells and proteins in disease"
    options = SearchOptions(size=4, mode=mode)  # type: ignore[arg-type]
    if mode == "native" and engine_sidecar_client.rewrite(name, "x")["mode"] != "native":
        # Elasticsearch on a Basic licence: native fusion is refused, fields or not.
        asked = dataclasses.replace(options, document_fields=("title",))
        with pytest.raises(ClientError) as refused:
            engine_sidecar_client.search(name, query, asked)
        assert refused.value.code is grpc.StatusCode.FAILED_PRECONDITION, engine.name
        return
    stored = {d["_id"]: d for d in corpus}
    bare = engine_sidecar_client.search(name, query, options)
    assert all(h.document == {} for h in bare.hits)  # as before document_fields
    asked = dataclasses.replace(options, document_fields=("title", "year", "absent"))
    found = engine_sidecar_client.search(name, query, asked)
    assert [(h.id, h.score) for h in found.hits] == [(h.id, h.score) for h in bare.hits]
    assert found.mode == mode
    for hit in found.hits:
        doc = stored[hit.id]
        assert hit.document == {"title": doc["title"], "year": doc["year"]}


def test_rewrite_returns_the_dsl_without_running_it(
    indexed: tuple[str, Any], engine_sidecar_client: TandemClient
) -> None:
    name, _ = indexed
    rewritten = engine_sidecar_client.rewrite(
        name, 'what does the "quoted" {text} do?', SearchOptions(size=3, window=20, mode="sidecar")
    )
    assert rewritten["mode"] == "sidecar" and rewritten["index"] == name
    queries = rewritten["queries"]
    assert set(queries) == {"bm25", "dense", "sparse"}
    text = json.dumps(queries["bm25"])
    assert 'what does the \\"quoted\\" {text} do?' in text  # data, not JSON syntax
    assert "384" not in text
    flat = json.dumps(queries["dense"])
    assert flat.count(",") > 380  # the 384-dim query vector is in the DSL


def test_unknown_index_and_delete(engine_sidecar_client: TandemClient) -> None:
    missing = f"tandem-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as search:
        engine_sidecar_client.search(missing, "query")
    assert search.value.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(ClientError) as delete:
        engine_sidecar_client.delete_index(missing)
    assert delete.value.code is grpc.StatusCode.NOT_FOUND
    with pytest.raises(ClientError) as stream:
        engine_sidecar_client.index_documents(missing, [{"_id": "1", "text": "x"}])
    assert stream.value.code is grpc.StatusCode.NOT_FOUND
    name = f"tandem-delete-{uuid.uuid4().hex[:8]}"
    engine_sidecar_client.create_index(spec_json(name, year="integer"))
    engine_sidecar_client.delete_index(name)
    with pytest.raises(ClientError) as gone:
        engine_sidecar_client.delete_index(name)
    assert gone.value.code is grpc.StatusCode.NOT_FOUND


def _user_query(text: str, **options: Any) -> dict[str, Any]:
    return {
        "bool": {
            "must": [{"tandem": {"query": text, **options}}],
            "filter": [{"range": {"year": {"gte": 2010}}}],
        }
    }


@pytest.mark.parametrize("mode", ["auto", "sidecar"])
def test_the_tandem_clause_runs_inside_the_users_query(
    indexed: tuple[str, Any],
    engine_sidecar_client: TandemClient,
    corpus: list[dict[str, Any]],
    mode: str,
) -> None:
    name, _ = indexed
    years = {d["_id"]: d["year"] for d in corpus}
    target = next(d for d in corpus if d["year"] >= 2010)
    found = engine_sidecar_client.search(
        name,
        "",
        SearchOptions(size=5, mode=mode),  # type: ignore[arg-type]
        dsl=_user_query(target["title"], method="rrf", window=30),
    )
    assert found.hits[0].id == target["_id"]
    assert all(years[h.id] >= 2010 for h in found.hits)
    rewritten = engine_sidecar_client.rewrite(
        name,
        "",
        SearchOptions(mode=mode),
        dsl=_user_query("cells"),  # type: ignore[arg-type]
    )
    bodies = list(rewritten["queries"].values())
    text = json.dumps(bodies)
    assert '"range": {"year": {"gte": 2010}}' in text and "tandem" not in text
    assert found.mode in ("native", "sidecar") and rewritten["mode"] == found.mode


def test_a_malformed_tandem_clause_names_its_path(
    indexed: tuple[str, Any], engine_sidecar_client: TandemClient
) -> None:
    name, _ = indexed
    with pytest.raises(ClientError) as err:
        engine_sidecar_client.search(name, "", dsl=_user_query("x", method="colbert"))
    assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details.startswith("query.bool.must[0].tandem.method:")
    with pytest.raises(ClientError) as both:
        engine_sidecar_client.search(name, "text here too", dsl=_user_query("x"))
    assert both.value.code is grpc.StatusCode.INVALID_ARGUMENT

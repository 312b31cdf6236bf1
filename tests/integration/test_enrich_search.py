"""Hybrid search on an index the user wrote and Tandem enriched, with the user's own query.

The user's index keeps its English analyzer and its field names (``title``, ``body``);
after ``EnrichIndex`` the user's original BM25 query runs unchanged on the engine, and
the same query with its ``multi_match`` swapped for a ``tandem`` clause runs through
``tandem search --dsl``, as does ``tandem search --fields title,body``.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.client import EnrichSettings, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.search.query_dsl import BM25_TYPE
from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import tandem
from .user_index import bulk, create_user_index, scifact_docs

pytestmark = pytest.mark.integration

QUERY = "vitamin D deficiency and the risk of infection"
FIELDS = ["title", "body"]


@pytest.fixture
def enriched(
    engine_client: Any, engine: EngineHandle, engine_sidecar_client: TandemClient
) -> Iterator[str]:
    name = f"user-{uuid.uuid4().hex[:10]}"
    create_user_index(engine_client, engine, name, knn=True)
    bulk(engine_client, engine, name, scifact_docs(120))
    done = engine_sidecar_client.enrich_index(EnrichSettings(name, FIELDS))
    assert done.report is not None and done.report["enriched"] == 120
    yield name
    engine_client.indices.delete(index=name, ignore_unavailable=True)


def users_query(text: str) -> dict[str, Any]:
    """The application's own query: BM25 over its fields, filtered by its keyword (the
    multi_match type Tandem's BM25 leg uses, so the two can be compared)."""
    return {
        "bool": {
            "must": [{"multi_match": {"query": text, "fields": FIELDS, "type": BM25_TYPE}}],
            "filter": [{"term": {"tag": "even"}}],
        }
    }


def with_clause(method: str) -> dict[str, Any]:
    query = copy.deepcopy(users_query(QUERY))
    query["bool"]["must"][0] = {"tandem": {"query": QUERY, "method": method, "fields": FIELDS}}
    return query


def _ids(engine_client: Any, index: str, size: int) -> list[str]:
    found = engine_client.search(index=index, body={"size": size, "query": users_query(QUERY)})
    body = found.body if hasattr(found, "body") else found
    return [str(h["_id"]) for h in body["hits"]["hits"]]


def _search(sidecar: EmbeddedSidecar, *args: str, dsl: dict[str, Any] | None = None) -> Any:
    done = tandem(
        "search",
        "--server",
        sidecar.address,
        "--json",
        *args,
        input=json.dumps(dsl) if dsl is not None else None,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_users_query_with_and_without_the_tandem_clause(
    engine_client: Any, engine_sidecar: EmbeddedSidecar, enriched: str
) -> None:
    tags = {d["_id"]: d["tag"] for d in scifact_docs(120)}
    original = _ids(engine_client, enriched, 10)
    assert original, "the user's BM25 query matches documents of the slice"

    # The clause with method bm25 is the user's query: same structure, same analyzer.
    bm25 = _search(engine_sidecar, "--index", enriched, "--dsl", "-", dsl=with_clause("bm25"))
    assert [h["id"] for h in bm25["hits"]] == original

    # Sidecar fusion reports each retriever's rank; native fusion runs the same legs.
    hybrid = _search(
        engine_sidecar,
        *("--index", enriched, "--mode", "sidecar", "--dsl", "-"),
        dsl=with_clause("rrf"),
    )
    ids = [h["id"] for h in hybrid["hits"]]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert all(tags[i] == "even" for i in ids), "the user's filter holds in every retriever"
    legs = {name for h in hybrid["hits"] for name in h["retrievers"]}
    assert {"bm25", "dense", "sparse"} <= legs
    # The legs rank differently, and the fused order is made of all three.
    ranks = [{n: r["rank"] for n, r in h["retrievers"].items()} for h in hybrid["hits"]]
    assert any(r.get("dense") != r.get("bm25") for r in ranks), "the legs disagree somewhere"
    native = _search(engine_sidecar, "--index", enriched, "--dsl", "-", dsl=with_clause("rrf"))
    assert len(native["hits"]) == 10
    assert all(tags[h["id"]] == "even" for h in native["hits"])


def test_search_by_field_names_on_the_enriched_index(
    engine_sidecar: EmbeddedSidecar, enriched: str
) -> None:
    found = _search(
        engine_sidecar,
        *(QUERY, "--index", enriched, "--fields", "title,body"),
        *("--method", "rrf", "--mode", "sidecar"),
    )
    assert len(found["hits"]) == 10
    assert {"bm25", "dense", "sparse"} <= {n for h in found["hits"] for n in h["retrievers"]}

"""Each engine of the matrix does what Tandem relies on: BM25, HNSW kNN, sparse, pre-filters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tandem.integration.handle import EngineHandle

from . import engine_dsl
from .corpus import N_DOCS, Doc, exact_cosine_top, make_corpus, query_near, sparse_scores

DOCS = make_corpus()
BY_ID = {d.id: d for d in DOCS}


@pytest.fixture
def smoke_index(engine: EngineHandle, engine_client: Any, index_name: str) -> Iterator[str]:
    sparse_type = engine_dsl.sparse_field_types(engine)[0]
    engine_dsl.create_and_fill(engine, engine_client, index_name, DOCS, sparse_type, dense=True)
    yield index_name


def _hits(response: Any) -> list[tuple[str, float]]:
    return [(h["_id"], float(h["_score"])) for h in response["hits"]["hits"]]


def test_corpus_indexed(engine_client: Any, smoke_index: str) -> None:
    assert engine_client.count(index=smoke_index)["count"] == N_DOCS >= 50


def test_bm25_top_hit(engine_client: Any, smoke_index: str) -> None:
    body = {"query": {"match": {"text": "number017 retrieval"}}, "size": 5}
    hits = _hits(engine_client.search(index=smoke_index, body=body))
    assert hits[0][0] == "d017"
    assert hits[0][1] > hits[1][1]  # the rare term decides, not the shared one


def test_knn_agrees_with_exact_search(
    engine: EngineHandle, engine_client: Any, smoke_index: str
) -> None:
    target: Doc = BY_ID["d017"]
    query = query_near(target)
    expected = exact_cosine_top(DOCS, query, k=10)
    body = engine_dsl.knn_search(engine, query, k=10)
    hits = _hits(engine_client.search(index=smoke_index, body=body))
    assert hits[0][0] == "d017"
    assert [doc_id for doc_id, _ in hits] == [doc_id for doc_id, _ in expected]
    # Both engines report cosine as (1 + cos) / 2.
    for (_, score), (_, cosine) in zip(hits, expected, strict=True):
        assert score == pytest.approx((1 + cosine) / 2, abs=1e-4)


def test_knn_filter_is_a_prefilter(
    engine: EngineHandle, engine_client: Any, smoke_index: str
) -> None:
    # The query sits in cluster "b": the unfiltered top 5 holds no "a" document,
    # so a post-filter would return nothing. A pre-filter returns k "a" hits.
    query = query_near(BY_ID["d017"])
    unfiltered = _hits(
        engine_client.search(index=smoke_index, body=engine_dsl.knn_search(engine, query, k=5))
    )
    assert {BY_ID[i].category for i, _ in unfiltered} == {"b"}

    body = engine_dsl.knn_search(engine, query, k=5, filter_={"term": {"category": "a"}})
    hits = _hits(engine_client.search(index=smoke_index, body=body))
    in_a = [d for d in DOCS if d.category == "a"]
    assert [i for i, _ in hits] == [i for i, _ in exact_cosine_top(in_a, query, k=5)]


@pytest.mark.parametrize(
    "tokens",
    [{"term3": 1.0}, {"term3": 1.0, "term7": 0.5, "term21": 2.0}],
    ids=["one-token", "three-tokens"],
)
def test_sparse_ranking_is_dot_product(
    engine: EngineHandle, engine_client: Any, index_name: str, tokens: dict[str, float]
) -> None:
    expected = sparse_scores(DOCS, tokens)
    assert expected, "the corpus must contain the query tokens"
    for field_type in engine_dsl.sparse_field_types(engine):
        index = f"{index_name}-{field_type.replace('_', '-')}"
        engine_dsl.create_and_fill(engine, engine_client, index, DOCS, field_type, dense=False)
        body = engine_dsl.sparse_search(engine, field_type, tokens, size=N_DOCS)
        try:
            hits = _hits(engine_client.search(index=index, body=body))
        finally:
            engine_client.indices.delete(index=index)
        got = dict(hits)
        assert got.keys() == expected.keys(), field_type
        for doc_id, score in expected.items():
            assert got[doc_id] == pytest.approx(score, rel=1e-3), (field_type, doc_id)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True), field_type

"""OpenSearch's own hybrid query with Tandem-style search pipelines.

These check the engine facts that the rewriter's native mode relies on
(docs/engines.md): the hybrid query, the normalization processor's
techniques, and the RRF score ranker, each in a search pipeline sent inside
the request (request-scoped: nothing is stored on the shared cluster).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.integration.clients import client_for
from tandem.integration.handle import EngineHandle

from . import engine_dsl
from .corpus import make_corpus, query_near

DOCS = make_corpus()
BY_ID = {d.id: d for d in DOCS}
RANK_CONSTANT = 60


@pytest.fixture
def hybrid_index(opensearch_engine: EngineHandle) -> Iterator[tuple[Any, str]]:
    client = client_for(opensearch_engine)
    name = f"tandem-test-hybrid-{uuid.uuid4().hex[:10]}"
    engine_dsl.create_and_fill(opensearch_engine, client, name, DOCS, "rank_features", dense=True)
    yield client, name
    client.indices.delete(index=name, ignore_unavailable=True)


def _techniques(engine: EngineHandle) -> list[str]:
    major = int(engine.version.split(".")[0])
    return ["min_max", "l2", "z_score"] if major >= 3 else ["min_max", "l2"]


def _hybrid_body() -> dict[str, Any]:
    # BM25 finds d017 only (its rare term); kNN finds d017 first, then its cluster.
    return {
        "size": 10,
        "query": {
            "hybrid": {
                "queries": [
                    {"match": {"text": "number017"}},
                    {"knn": {"vector": {"vector": query_near(BY_ID["d017"]), "k": 5}}},
                ]
            }
        },
    }


def _search(client: Any, index: str, pipeline: dict[str, Any]) -> list[tuple[str, float]]:
    response = client.search(index=index, body={**_hybrid_body(), "search_pipeline": pipeline})
    return [(h["_id"], float(h["_score"])) for h in response["hits"]["hits"]]


def test_normalization_pipelines(
    opensearch_engine: EngineHandle, hybrid_index: tuple[Any, str]
) -> None:
    client, index = hybrid_index
    for technique in _techniques(opensearch_engine):
        pipeline = {
            "phase_results_processors": [
                {
                    "normalization-processor": {
                        "normalization": {"technique": technique},
                        "combination": {
                            "technique": "arithmetic_mean",
                            "parameters": {"weights": [0.5, 0.5]},
                        },
                    }
                }
            ]
        }
        hits = _search(client, index, pipeline)
        assert hits[0][0] == "d017", technique
        assert len(hits) == 5, technique  # kNN-only documents keep their place
        if technique == "min_max":
            assert hits[0][1] == pytest.approx(1.0, abs=1e-6)


def test_rrf_pipeline_keeps_single_retriever_documents(hybrid_index: tuple[Any, str]) -> None:
    client, index = hybrid_index
    pipeline = {
        "phase_results_processors": [
            {
                "score-ranker-processor": {
                    "combination": {"technique": "rrf", "rank_constant": RANK_CONSTANT}
                }
            }
        ]
    }
    hits = _search(client, index, pipeline)
    assert hits[0] == ("d017", pytest.approx(2 / (RANK_CONSTANT + 1), rel=1e-4))
    # Ranked second by kNN only: 1 / (60 + 2).
    assert hits[1][1] == pytest.approx(1 / (RANK_CONSTANT + 2), rel=1e-4)
    assert len(hits) == 5

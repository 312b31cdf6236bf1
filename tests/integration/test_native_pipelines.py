"""Native fusion on real OpenSearch leaves no search pipelines behind.

Each native search carries its search pipeline in the request body (a
request-scoped pipeline, OpenSearch 2.9+), so no weight choice creates cluster
state, and nothing that happens to the cluster's named pipelines can break it.
Other sessions share these engines: the tests only look for pipelines holding
their own (unusual) weights, and delete only pipelines they saw appear for them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy.exceptions import NotFoundError

from tandem.client import ClientError, TandemClient
from tandem.integration.clients import client_for
from tandem.integration.handle import EngineHandle
from tandem.plugin.search.options import SearchOptions

from .shared_data import shared_dir
from .sidecar import spec_json, start_sidecar

DOCS = 12
QUERY = "cells and proteins in disease"


@pytest.fixture(scope="module")
def native_index(opensearch_engine: EngineHandle) -> Iterator[tuple[TandemClient, Any, str]]:
    """A sidecar in front of OpenSearch, the engine's own client, and a small index."""
    sidecar = start_sidecar(engine=opensearch_engine.url)
    client = TandemClient(sidecar.address)
    name = f"tandem-native-{uuid.uuid4().hex[:10]}"
    spec = spec_json(name)
    with (shared_dir() / "data" / "scifact" / "corpus.jsonl").open() as lines:
        docs = [json.loads(line) for line in itertools.islice(lines, DOCS)]
    client.create_index(spec)
    try:
        client.index_documents(name, docs)
        yield client, client_for(opensearch_engine), name
    finally:
        with contextlib.suppress(ClientError):
            client.delete_index(name)
        client.close()
        sidecar.stop()


def _pipelines(engine: Any) -> dict[str, Any]:
    """Every search pipeline on the cluster (OpenSearch answers 404 when there is none)."""
    try:
        return dict(engine.transport.perform_request("GET", "/_search/pipeline"))
    except NotFoundError:
        return {}


def _weights_in(pipeline: Any) -> list[list[float]]:
    found = []
    for processor in pipeline.get("phase_results_processors", []):
        for config in processor.values():
            weights = config.get("combination", {}).get("parameters", {}).get("weights")
            if weights:
                found.append([round(float(w), 6) for w in weights])
    return found


def _shares(weights: dict[str, float]) -> list[float]:
    ordered = [weights.get(name, 1.0) for name in ("bm25", "dense", "sparse")]
    return [round(w / sum(ordered), 6) for w in ordered]


def _holding(engine: Any, shares: list[list[float]]) -> list[str]:
    """Names of the engine's pipelines whose weights are one of ``shares``."""
    return [
        name
        for name, body in _pipelines(engine).items()
        if any(w in shares for w in _weights_in(body))
    ]


def test_many_weight_vectors_leave_no_persistent_pipeline(
    opensearch_engine: EngineHandle, native_index: tuple[TandemClient, Any, str]
) -> None:
    client, engine, name = native_index
    methods = ["linear", "rrf"] if opensearch_engine.version >= "3.1" else ["linear"]
    chosen = [{"bm25": 1 + i / 997, "dense": 2 + i / 991} for i in range(1, 31)]
    for weights, method in itertools.product(chosen, methods):
        options = SearchOptions(method=method, weights=weights, mode="native", size=5)  # type: ignore[arg-type]
        found = client.search(name, QUERY, options)
        assert found.mode == "native" and len(found.hits) == 5
    assert _holding(engine, [_shares(w) for w in chosen]) == []


def test_rewrite_shows_the_request_search_sends(
    native_index: tuple[TandemClient, Any, str],
) -> None:
    client, engine, name = native_index
    options = SearchOptions(method="linear", weights={"bm25": 1.2345, "dense": 3.0}, size=5)
    rewritten = client.rewrite(name, QUERY, options)
    assert rewritten["mode"] == "native" and rewritten["pipeline"] is None
    body = rewritten["queries"]["hybrid"]
    assert body["search_pipeline"] == rewritten["pipeline_body"]
    # The rewritten request, sent as it is, ranks exactly what Search returns.
    direct = engine.search(index=name, body=body)["hits"]["hits"]
    searched = client.search(name, QUERY, options).hits
    assert [h["_id"] for h in direct] == [h.id for h in searched]
    assert [h["_score"] for h in direct] == pytest.approx([h.score for h in searched], rel=1e-5)


def test_a_pipeline_deleted_behind_tandems_back_does_not_break_native_search(
    native_index: tuple[TandemClient, Any, str],
) -> None:
    client, engine, name = native_index
    weights = {"bm25": 1.4142, "dense": 2.7183}
    options = SearchOptions(method="linear", weights=weights, mode="native", size=5)
    first = client.search(name, QUERY, options)
    # Whatever pipeline this search left behind is ours: remove it, as an operator might.
    for pipeline in _holding(engine, [_shares(weights)]):
        engine.transport.perform_request("DELETE", f"/_search/pipeline/{pipeline}")
    again = client.search(name, QUERY, options)
    assert again.mode == "native"
    assert [h.id for h in again.hits] == [h.id for h in first.hits]

"""The query policy on a real engine, through real sidecars over gRPC.

A default sidecar refuses a terms lookup and a script hidden in a filter before
the engine sees them; a sidecar started with ``--allow-cross-index-queries``
lets the engine run the same lookup, which really reads another index.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.search.options import SearchOptions

from .sidecar import start_sidecar

DOCS = [
    {
        "_id": "green",
        "title": "Green tea",
        "text": "Green tea is brewed from leaves.",
        "tags": "tea",
    },
    {"_id": "black", "title": "Black tea", "text": "Black tea is oxidised.", "tags": "tea"},
    {"_id": "coffee", "title": "Coffee", "text": "Coffee is brewed from beans.", "tags": "coffee"},
]


@pytest.fixture(scope="module")
def indices(engine_sidecar_client: TandemClient, engine_client: Any) -> Iterator[tuple[str, str]]:
    """A Tandem index and a second index holding the terms a lookup reads."""
    name = f"tandem-policy-{uuid.uuid4().hex[:10]}"
    lookup = f"tandem-policy-lookup-{uuid.uuid4().hex[:10]}"
    engine_sidecar_client.create_index(
        {
            "name": name,
            "fields": [
                {"name": "title", "type": "text"},
                {"name": "text", "type": "text"},
                {"name": "embedding", "type": "dense"},
                {"name": "tags", "type": "keyword"},
            ],
        }
    )
    result = engine_sidecar_client.index_documents(name, DOCS)
    assert result.indexed == len(DOCS), result
    engine_client.index(index=lookup, id="wanted", body={"tags": ["coffee"]}, refresh=True)
    yield name, lookup
    with contextlib.suppress(ClientError):
        engine_sidecar_client.delete_index(name)
    engine_client.indices.delete(index=lookup, ignore_unavailable=True)


def lookup_filter(lookup: str) -> dict[str, Any]:
    return {"terms": {"tags": {"index": lookup, "id": "wanted", "path": "tags"}}}


def test_the_default_sidecar_refuses_hidden_scripts_and_lookups(
    indices: tuple[str, str], engine_sidecar_client: TandemClient
) -> None:
    name, lookup = indices
    knn_script = {
        "knn": {"embedding": {"vector": [0.1] * 384, "k": 3, "filter": {"script": {"script": "1"}}}}
    }
    cases = [
        (knn_script, "filters[0].knn.embedding.filter.script:", "--allow-scripts"),
        (lookup_filter(lookup), "filters[0].terms.tags:", "--allow-cross-index-queries"),
    ]
    for clause, path, switch in cases:
        with pytest.raises(ClientError) as err:
            engine_sidecar_client.search(name, "brewed", SearchOptions(filters=(clause,)))
        assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details.startswith(path) and switch in err.value.details
    # the same index answers a plain search, so the refusals were the policy's
    assert engine_sidecar_client.search(name, "brewed", SearchOptions(method="bm25")).hits


def test_an_operator_can_allow_cross_index_queries(
    indices: tuple[str, str], engine: EngineHandle
) -> None:
    name, lookup = indices
    sidecar = start_sidecar(
        engine=engine.url, sparse="none", metrics_port=-1, allow_cross_index_queries=True
    )
    try:
        with TandemClient(sidecar.address) as client:
            options = SearchOptions(method="bm25", filters=(lookup_filter(lookup),))
            found = client.search(name, "brewed", options)
            assert [hit.id for hit in found.hits] == ["coffee"]  # terms read from the lookup
            with pytest.raises(ClientError, match="--allow-scripts"):
                client.search(
                    name, "brewed", SearchOptions(method="bm25", filters=({"script": {}},))
                )
    finally:
        sidecar.stop()

"""The query cache on a real sidecar and engine: a repeated query skips the models,
answers the same hits, and the metrics count the hits and misses."""

from __future__ import annotations

import uuid
from typing import Any

from tandem.client import SearchOptions, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.server.embedded import EmbeddedSidecar

from .shared_data import scifact_corpus
from .sidecar import sample, scrape, spec_json, start_sidecar


def _lookups(sidecar: EmbeddedSidecar, result: str) -> float:
    page = scrape(sidecar)
    return sum(
        sample(page, "tandem_query_cache_lookups_total", model=model, result=result)
        for model in ("minilm/fp32/query", "splade-tiny/fp32/splade")
    )


def test_a_repeated_query_is_answered_from_the_cache(
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
    scifact_sidecar_index: str,
) -> None:
    query = f"vitamin D and respiratory infections {uuid.uuid4().hex[:6]}"  # new to the cache
    options = SearchOptions(size=5, mode="sidecar", explain=True)
    hits_before, misses_before = _lookups(engine_sidecar, "hit"), _lookups(engine_sidecar, "miss")
    first = engine_sidecar_client.search(scifact_sidecar_index, query, options)
    again = engine_sidecar_client.search(scifact_sidecar_index, f"  {query}  ", options)
    assert first.metadata.tokens > 0 and first.metadata.inference_ms > 0
    assert again.metadata.tokens == 0 and again.metadata.inference_ms == 0  # no model ran
    assert [(h.id, h.score, h.sources) for h in again.hits] == [
        (h.id, h.score, h.sources) for h in first.hits
    ]
    assert _lookups(engine_sidecar, "miss") - misses_before == 2  # dense and sparse, once
    assert _lookups(engine_sidecar, "hit") - hits_before == 2


def test_results_are_never_cached(
    engine_sidecar: EmbeddedSidecar, engine_sidecar_client: TandemClient, engine_client: Any
) -> None:
    # The same query after the index changed sees the change: only the vectors are reused.
    name = f"tandem-cache-{uuid.uuid4().hex[:10]}"
    engine_sidecar_client.create_index(spec_json(name))
    try:
        engine_sidecar_client.index_documents(name, scifact_corpus(12))
        query = f"cells and proteins in disease {uuid.uuid4().hex[:6]}"
        options = SearchOptions(size=3, mode="sidecar")
        before = engine_sidecar_client.search(name, query, options)
        engine_client.delete(index=name, id=before.hits[0].id, refresh=True)
        hits_before = _lookups(engine_sidecar, "hit")
        after = engine_sidecar_client.search(name, query, options)
        assert _lookups(engine_sidecar, "hit") - hits_before == 2  # the vectors were reused
        assert before.hits[0].id not in [h.id for h in after.hits]  # the hits were not
    finally:
        engine_sidecar_client.delete_index(name)


def test_the_cache_can_be_turned_off(engine: EngineHandle, scifact_sidecar_index: str) -> None:
    off = start_sidecar(engine=engine.url, query_cache_entries=0)
    try:
        with TandemClient(off.address) as client:
            options = SearchOptions(size=3, method="dense")
            client.search(scifact_sidecar_index, "statins and dementia", options)
            again = client.search(scifact_sidecar_index, "statins and dementia", options)
        assert again.metadata.tokens > 0
        assert _lookups(off, "hit") == 0 and _lookups(off, "miss") == 0
    finally:
        off.stop()

"""``benchmarks/enrich.py`` runs end to end on every engine, on a handful of documents.

A smoke test of the script, not of its numbers: speed claims live in the benchmark's
own output.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from benchmarks import enrich
from tandem.integration.handle import EngineHandle

from .shared_data import shared_dir

pytestmark = pytest.mark.integration


def test_enrich_benchmark_enriches_every_document_and_measures_both_rates(
    engine: EngineHandle, engine_client: Any
) -> None:
    index = f"tandem-bench-enrich-{uuid.uuid4().hex[:10]}"
    try:
        result = enrich.run(shared_dir() / "data" / "scifact", 24, engine.url, 8, index=index)
    finally:
        engine_client.indices.delete(index=index, ignore_unavailable=True)

    assert result.docs == 24
    assert result.enriched == 24
    assert result.failures == 0
    assert result.encode_only_docs_per_s > 0
    assert result.enrich_docs_per_s > 0
    assert result.ratio > 0
    assert result.encode_seconds > 0
    assert 0 < result.backfill_seconds <= result.seconds
    assert not engine_client.indices.exists(index=index)
    assert "ratio" in enrich.summary(result)

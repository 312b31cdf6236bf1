"""``benchmarks/queries.py --breakdown`` runs end to end, in-process and through gRPC.

A smoke test of the script on a handful of documents, on OpenSearch (the engine with
every variant, native fusion included), not of its numbers: speed claims live in the
benchmark's own output.
"""

from __future__ import annotations

import uuid

import pytest

from benchmarks import queries
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.connect import connect

pytestmark = pytest.mark.integration


def test_the_breakdown_covers_every_stage_of_every_variant(
    opensearch_engine: EngineHandle,
) -> None:
    index = f"tandem-bench-queries-{uuid.uuid4().hex[:10]}"
    try:
        result = queries.run(opensearch_engine.url, 30, 4, breakdown=True, index=index)
    finally:
        adapter = connect(opensearch_engine.url)
        if adapter.index_exists(index):
            adapter.delete_index(index)
        adapter.close()

    assert [r.name for r in result.rows] == [
        "bm25",
        "hybrid (sidecar rrf)",
        "hybrid (native rrf)",
        "dense",
        "sparse (splade)",
        "sparse (idf)",
    ]
    stages = {(r.variant, r.path, r.stage): r for r in result.stages}
    for stage in ("tokenize", "dense encode", "sparse encode", "request build", "fuse"):
        assert stages["hybrid (sidecar rrf)", "in-process", stage].p50_ms > 0, stage
    assert ("bm25", "in-process", "dense encode") not in stages  # BM25 encodes nothing
    assert ("sparse (idf)", "in-process", "dense encode") not in stages
    for variant in ("bm25", "hybrid (sidecar rrf)"):
        total = stages[variant, "in-process", "total"].p50_ms
        assert stages[variant, "in-process", "engine round trip"].p50_ms <= total
        assert stages[variant, "grpc", "client wall"].p50_ms >= (
            stages[variant, "grpc", "server total"].p50_ms
        )
    assert stages["hybrid (native rrf)", "grpc", "inference"].p50_ms > 0
    # With the cache on, a repeated query runs no model: the repeats pull inference down.
    cached = "hybrid (sidecar rrf), cache on, 30% repeats"
    assert stages[cached, "grpc", "client wall"].p50_ms > 0
    assert ("hybrid (sidecar rrf), cache on, no repeats", "grpc", "inference") in stages
    assert "Per stage" in queries.summary(result)


def test_a_repeat_rate_replaces_that_share_of_queries_with_earlier_ones() -> None:
    asked = queries.with_repeats([f"q{i}" for i in range(1000)], 0.3)
    assert len(asked) == 1000 and set(asked) <= {f"q{i}" for i in range(1000)}
    repeats = len(asked) - len(set(asked))
    assert 250 <= repeats <= 350

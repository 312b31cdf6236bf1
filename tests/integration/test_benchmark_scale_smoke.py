"""``benchmarks/scale.py`` end to end at 10,000 documents: CI's smoke of the 1M benchmark.

The numbers it prints are the benchmark's business (docs/scale.md); this checks
that the run grows the index to each size, measures every variant, and that the
engine's own scoring agrees with the exact reference where it must: the full SPLADE
query is an exact dot product on the engine too.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from benchmarks.scale.__main__ import main
from tandem.integration.pytest_plugin import EnginePool
from tandem.integration.specs import DEFAULT_VERSIONS
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind

pytestmark = pytest.mark.integration


def test_the_scale_benchmark_grows_measures_and_charts(
    engine_pool: EnginePool, tmp_path: Path
) -> None:
    # One engine, as the benchmark itself runs on one (OpenSearch 3.x, the default).
    opensearch_engine = engine_pool.get(
        EngineKind.OPENSEARCH, DEFAULT_VERSIONS[EngineKind.OPENSEARCH]
    )
    index = f"tandem-bench-scale-{uuid.uuid4().hex[:10]}"
    argv = ["--engine", opensearch_engine.url, "--index", index, "--sizes", "2000,10000"]
    argv += ["--real", "200", "--queries", "10", "--out", str(tmp_path), "--keep"]
    adapter = connect(opensearch_engine.url)
    try:
        assert main(argv) == 0
        assert adapter.count(index) == 10_000
    finally:
        adapter.delete_index(index)
        adapter.close()

    run = json.loads((tmp_path / "scale.json").read_text())
    assert [s["docs"] for s in run["sizes"]] == [2000, 10_000]
    assert run["real"] == 200
    for size in run["sizes"]:
        rows = {r["variant"]: r for r in size["rows"]}
        assert set(rows) == {
            "bm25",
            "dense",
            "sparse (splade)",
            "sparse (splade top 10)",
            "sparse (idf)",
            "hybrid (rrf)",
            "hybrid (rrf, idf sparse)",
            "hybrid (rrf, sidecar)",
            "hybrid (rrf, idf sparse, sidecar)",
        }
        assert all(r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"] for r in rows.values())
        # rank_features keeps 9 bits of each weight: near-ties may swap, little else.
        assert rows["sparse (splade)"]["recall_at_10"] >= 0.9
        assert rows["dense"]["recall_at_10"] >= 0.9
        assert rows["sparse (idf)"]["recall_at_10"] < 1.0  # another query, other results
        assert size["footprint"]["store_bytes"] > 0
    assert run["sizes"][1]["footprint"]["store_bytes"] > run["sizes"][0]["footprint"]["store_bytes"]
    assert (tmp_path / "scale-latency.png").stat().st_size > 0
    assert (tmp_path / "scale-recall.png").stat().st_size > 0

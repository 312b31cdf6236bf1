"""``benchmarks/ray_backfill.py`` on a few documents: CI's smoke of the Ray benchmark.

The ratios are the benchmark's business (docs/scale.md); this checks that every
variant ran (single process twice, each Ray shape, the replay) and indexed every
document.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.ray_backfill import SHAPES, main
from tandem.integration.pytest_plugin import EnginePool
from tandem.integration.specs import DEFAULT_VERSIONS
from tandem.plugin.engines.kinds import EngineKind

pytestmark = pytest.mark.integration


def test_the_ray_benchmark_runs_every_variant(
    engine_pool: EnginePool, capsys: pytest.CaptureFixture[str]
) -> None:
    opensearch = engine_pool.get(EngineKind.OPENSEARCH, DEFAULT_VERSIONS[EngineKind.OPENSEARCH])
    capsys.readouterr()  # what the engine pool printed, if it started or attached one now
    assert main(["--engine", opensearch.url, "--docs", "24", "--batch-size", "8", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    names = [v["name"] for v in run["variants"]]
    shapes = [f"ray {w} x {c}" for w, c in SHAPES]
    assert names == ["single process", *shapes, "replay (no encoding)", "single process (again)"]
    assert all(v["failures"] == 0 and v["docs_per_s"] > 0 for v in run["variants"])
    assert set(run["ratios"]) == {f"{s} / single process" for s in shapes}
    assert run["docs"] == 24

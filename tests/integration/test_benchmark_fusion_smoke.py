"""``python -m benchmarks.fusion`` runs end to end on a small SciFact slice.

A smoke test of the script (every fusion setting scored from one set of retriever
searches, the choice printed), not of its numbers: those are in docs/results.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import fusion
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.connect import connect
from tandem.plugin.evaluation.data import Dataset
from tandem.plugin.evaluation.runner import index_name

from .shared_data import scifact_slice

pytestmark = pytest.mark.integration
DOCS = 150


def test_every_fusion_setting_is_scored(
    opensearch_engine: EngineHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = scifact_slice(tmp_path, DOCS)
    args = ["--engine", opensearch_engine.url, "--data", str(data), "--datasets", "scifact"]
    adapter = connect(opensearch_engine.url)
    index = index_name(Dataset.load(data / "scifact"), "minilm", "splade-tiny")
    try:
        assert fusion.main([*args, "--json"]) == 0
        scores = json.loads(capsys.readouterr().out)
        assert len(scores) == len(list(fusion.settings()))
        assert all(0.0 < s["ndcg10"] <= 1.0 for s in scores)
        # Weights that keep one retriever alone are that retriever's own ranking: the
        # scores differ across settings, so the grid is really fused.
        assert len({round(s["ndcg10"], 6) for s in scores}) > 1
        assert fusion.main(args) == 0
        out = capsys.readouterr().out
        assert "chosen on scifact:" in out and "(today) linear min_max, equal weights" in out
    finally:
        adapter.delete_index(index)
        adapter.close()

"""``python -m benchmarks.lexical`` runs end to end on a small SciFact slice.

A smoke test of the script (every setting indexed and scored, the choice printed),
not of its numbers: those live in the benchmark's own output and docs/results.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import lexical
from tandem.integration.handle import EngineHandle

from .shared_data import scifact_slice

pytestmark = pytest.mark.integration
DOCS = 80


def test_every_lexical_setting_is_scored(
    opensearch_engine: EngineHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = scifact_slice(tmp_path, DOCS)
    args = ["--engine", opensearch_engine.url, "--data", str(data), "--datasets", "scifact"]
    assert lexical.main([*args, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    settings = len(lexical.ANALYZERS) * len(lexical.SIMILARITIES)
    # OpenSearch 2.x has no combined_fields query: the script skips it there, and says so.
    types = len(lexical.QUERY_TYPES) - (1 if opensearch_engine.version.startswith("2.") else 0)
    assert len(scores) == settings * types * len(lexical.TITLE_BOOSTS)
    assert all(0.0 < s["ndcg10"] <= 1.0 for s in scores)
    assert lexical.main(args) == 0
    assert "chosen on scifact:" in capsys.readouterr().out

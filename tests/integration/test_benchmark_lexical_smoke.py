"""``python -m benchmarks.lexical`` runs end to end on a small SciFact slice.

A smoke test of the script (every setting indexed and scored, the choice printed),
not of its numbers: those live in the benchmark's own output and docs/results.md.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmarks import lexical
from tandem.integration.handle import EngineHandle

from .shared_data import shared_dir

pytestmark = pytest.mark.integration
DOCS = 80


def _slice(folder: Path) -> Path:
    """The first DOCS SciFact documents, with the judged queries that point into them."""
    source = shared_dir() / "data" / "scifact"
    target = folder / "scifact"
    (target / "qrels").mkdir(parents=True)
    lines = (source / "corpus.jsonl").read_text().splitlines()[:DOCS]
    (target / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    ids = {json.loads(line)["_id"] for line in lines}
    with (source / "qrels" / "test.tsv").open() as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["corpus-id"] in ids]
    with (target / "qrels" / "test.tsv").open("w") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{r['query-id']}\t{r['corpus-id']}\t{r['score']}\n" for r in rows)
    queries = {r["query-id"] for r in rows}
    kept = [
        line
        for line in (source / "queries.jsonl").read_text().splitlines()
        if line.strip() and json.loads(line)["_id"] in queries
    ]
    (target / "queries.jsonl").write_text("\n".join(kept) + "\n")
    return folder


def test_every_lexical_setting_is_scored(
    opensearch_engine: EngineHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _slice(tmp_path)
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

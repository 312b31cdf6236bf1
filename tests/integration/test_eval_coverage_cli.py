"""``tandem eval`` says so when most judged documents are not in the corpus."""

from __future__ import annotations

import json
from pathlib import Path

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.connect import connect
from tandem.plugin.evaluation.data import Dataset
from tandem.plugin.evaluation.runner import index_name

from .cli import tandem


def _mismatched(folder: Path) -> Path:
    """Three documents, and qrels that judge mostly documents of another corpus."""
    (folder / "qrels").mkdir(parents=True)
    docs = ["vitamin d and infections", "protein folding", "heart attacks"]
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(docs))
    )
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "vitamin d"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td0\t1\nq1\tother-1\t1\nq1\tother-2\t1\nq1\tother-3\t1\n"
    )
    return folder


def test_eval_warns_with_the_share_of_judged_documents_missing(
    engine: EngineHandle, tmp_path: Path
) -> None:
    data = _mismatched(tmp_path / "mismatched")
    adapter = connect(engine.url)
    index = index_name(Dataset.load(data), "minilm", "splade-tiny")
    try:
        done = tandem(
            "eval", "--data", str(data), "--engine", engine.url, "--methods", "bm25",
            "--out", str(tmp_path / "out"), "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "warning: 3 of 4 judged documents (75%) are not in" in done.stderr
        assert "come from the same dataset" in done.stderr
    finally:
        adapter.delete_index(index)
        adapter.close()

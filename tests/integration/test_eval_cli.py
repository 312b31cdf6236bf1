"""``tandem eval`` end to end on a small BEIR dataset built from SciFact, on each engine."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.connect import connect
from tandem.plugin.evaluation.data import Dataset
from tandem.plugin.evaluation.runner import index_name
from tandem.plugin.index.spec import Passages

from .cli import tandem
from .shared_data import shared_dir

QUERIES = 8
DISTRACTORS = 60
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first judged SciFact queries, their relevant abstracts and some distractors."""
    source = shared_dir() / "data" / "scifact"
    folder = tmp_path_factory.mktemp("beir") / "scifact-small"
    (folder / "qrels").mkdir(parents=True)
    with (source / "qrels" / "test.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:QUERIES]
    relevant = {r["corpus-id"] for r in rows}
    queries = {r["query-id"] for r in rows}
    kept = []
    with (source / "corpus.jsonl").open() as lines:
        for line in lines:
            if json.loads(line)["_id"] in relevant or len(kept) < DISTRACTORS:
                kept.append(line)
    (folder / "corpus.jsonl").write_text("".join(kept))
    with (source / "queries.jsonl").open() as lines:
        (folder / "queries.jsonl").write_text(
            "".join(line for line in lines if json.loads(line)["_id"] in queries)
        )
    with (folder / "qrels" / "test.tsv").open("w") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{r['query-id']}\t{r['corpus-id']}\t{r['score']}\n" for r in rows)
    return folder


def test_eval_scores_every_method_and_reuses_its_index(
    engine: EngineHandle, small_beir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ("eval", "--data", str(small_beir), "--engine", engine.url, "--out", str(out))
    adapter = connect(engine.url)
    index = index_name(Dataset.load(small_beir), "minilm", "splade-tiny")
    adapter.delete_index(index)  # a clean start: the first run must index
    try:
        _run_twice(args, out)
    finally:
        adapter.delete_index(index)
        adapter.close()


def _run_twice(args: tuple[str, ...], out: Path) -> None:
    first = tandem(*args, "--json")
    assert first.returncode == 0, first.stderr
    table = json.loads(first.stdout)
    assert list(table) == ["bm25", "dense", "sparse", "rrf", "linear"]
    for method, row in table.items():
        assert set(row) == {"ndcg@10", "recall@100", "mrr@10", "p50_ms", "p99_ms"}, method
        assert 0.3 < row["ndcg@10"] <= 1.0 and 0.0 < row["mrr@10"] <= 1.0
        assert row["recall@100"] > 0.8  # 68 documents: nearly every relevant one is found
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert "indexing" in first.stderr and "queries" in first.stderr  # progress shown
    saved = json.loads((out / "results.json").read_text())
    assert saved["methods"] == table and saved["queries"] == QUERIES
    assert (out / "quality.png").read_bytes().startswith(PNG)
    assert (out / "latency_quality.png").read_bytes().startswith(PNG)
    assert "| rrf |" in (out / "results.md").read_text()
    assert 0.3 < saved["reference"]["ndcg@10"] <= 1.0  # the stemmed BM25 reference, bm25s
    assert set(saved["comparisons"]) == {"over_best_single", "over_dense", "over_reference"}
    assert "reference: stemmed BM25 (bm25s)" in (out / "results.md").read_text()

    again = tandem(*args, "--methods", "bm25,rrf")
    assert again.returncode == 0, again.stderr
    assert f"reusing index {saved['index']}" in again.stderr
    assert "| bm25 |" in again.stdout and "| dense |" not in again.stdout


def test_eval_with_passages_indexes_and_scores_its_own_index(
    engine: EngineHandle, small_beir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "passages"
    adapter = connect(engine.url)
    dataset = Dataset.load(small_beir)
    index = index_name(dataset, "minilm", "splade-tiny", passages=Passages())
    assert index != index_name(dataset, "minilm", "splade-tiny")
    adapter.delete_index(index)
    try:
        args = ("eval", "--data", str(small_beir), "--engine", engine.url, "--out", str(out))
        done = tandem(*args, "--passages", "--methods", "dense,sparse,rrf")
        assert done.returncode == 0, done.stderr
        saved = json.loads((out / "results.json").read_text())
        assert saved["passages"] is True and saved["index"] == index
        # SciFact abstracts run past MiniLM's 254 tokens: some are split, and said so.
        dense = saved["lengths"]["dense"]
        assert dense["texts"] == saved["documents"]
        assert 0 < dense["long"] < dense["texts"] and dense["tokens_past_window"] > 0
        assert dense["passages"] > dense["texts"]
        # splade-tiny keeps whole texts by default (--sparse-passages splits them).
        assert saved["lengths"]["sparse"]["passages"] == saved["documents"]
        for method in ("dense", "sparse", "rrf"):
            assert 0.3 < saved["methods"][method]["ndcg@10"] <= 1.0, method
        text = (out / "results.md").read_text()
        assert "long documents split into passages" in text
        assert "dense: " in text and "split into" in text
        mapping = adapter.get_mapping(index)
        assert mapping["properties"]["embedding"]["type"] == "nested"
        assert mapping["_meta"]["tandem"]["passages"] == {}
        assert adapter.count(index) == saved["documents"]
    finally:
        adapter.delete_index(index)
        adapter.close()


def test_eval_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    done = tandem("eval", "--data", str(tmp_path), "--methods", "bm25")
    assert done.returncode == 2
    assert "not a BEIR dataset" in done.stderr
    bad = tandem("eval", "--data", str(tmp_path), "--methods", "bm25,colbert")
    assert bad.returncode == 2 and "colbert" in bad.stderr

"""Evaluation pieces on hand-made data: metrics, datasets, cache keys, tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tandem.plugin.evaluation.data import Dataset, content_hash
from tandem.plugin.evaluation.metrics import latency, relevance
from tandem.plugin.evaluation.reference import stemmed_bm25
from tandem.plugin.evaluation.report import markdown
from tandem.plugin.evaluation.runner import EvalOptions, EvalResult
from tandem.plugin.ingest.documents import Document

QRELS = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}}


def _dcg(gains: list[int]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def test_relevance_matches_the_textbook_definitions() -> None:
    run = {
        "q1": {"x": 3.0, "b": 2.0, "a": 1.0},  # relevant at ranks 2 (gain 1) and 3 (gain 2)
        "q2": {"y": 2.0, "z": 1.0},  # nothing relevant
    }
    scores = relevance(run, QRELS)
    ndcg_q1 = _dcg([0, 1, 2]) / _dcg([2, 1])
    assert scores["ndcg@10"] == pytest.approx((ndcg_q1 + 0.0) / 2, abs=1e-4)
    assert scores["recall@100"] == pytest.approx((1.0 + 0.0) / 2)
    assert scores["mrr@10"] == pytest.approx((1 / 2 + 0.0) / 2)


def test_a_query_missing_from_the_run_counts_as_zero() -> None:
    perfect = {"q1": {"a": 2.0, "b": 1.0}}
    assert relevance(perfect, QRELS)["ndcg@10"] == pytest.approx(0.5)


def test_latency_percentiles_in_milliseconds() -> None:
    seconds = [0.001 * i for i in range(1, 101)]
    result = latency(seconds)
    assert result["p50_ms"] == pytest.approx(50.5)
    assert result["p99_ms"] == pytest.approx(99.01)


def _beir(folder: Path, corpus: str = '{"_id": "a", "title": "t", "text": "x"}\n') -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(corpus)
    (folder / "queries.jsonl").write_text(
        '{"_id": "q1", "text": "first"}\n{"_id": "q9", "text": "unjudged"}\n'
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta\t1\n")
    return folder


def test_a_dataset_keeps_only_judged_queries(tmp_path: Path) -> None:
    dataset = Dataset.load(_beir(tmp_path / "mini"))
    assert dataset.name == "mini"
    assert dataset.queries == {"q1": "first"}
    assert dataset.qrels == {"q1": {"a": 1}}


def test_a_folder_that_is_not_beir_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"qrels/test\.tsv missing"):
        Dataset.load(tmp_path)


def test_the_cache_key_follows_content_and_models(tmp_path: Path) -> None:
    one = _beir(tmp_path / "one")
    two = _beir(tmp_path / "two", corpus='{"_id": "a", "title": "t", "text": "changed"}\n')
    key = content_hash([one / "corpus.jsonl"], "minilm")
    assert key == content_hash([one / "corpus.jsonl"], "minilm")
    assert key != content_hash([two / "corpus.jsonl"], "minilm")
    assert key != content_hash([one / "corpus.jsonl"], "other-model")


def test_markdown_marks_the_best_quality() -> None:
    result = EvalResult("scifact", "opensearch 3.6.0", 10, 2, "idx", False)
    row = {"ndcg@10": 0.5, "recall@100": 0.9, "mrr@10": 0.4, "p50_ms": 3.0, "p99_ms": 9.0}
    result.methods = {"bm25": row, "rrf": {**row, "ndcg@10": 0.7}}
    result.modes = {"bm25": "single", "rrf": "native"}
    table = markdown(result, "BM25 0.679")
    assert "| rrf | native | **0.7000** |" in table
    assert "| bm25 | single | 0.5000 |" in table
    assert "Published anchors: BM25 0.679" in table


def test_unknown_methods_are_refused() -> None:
    with pytest.raises(ValueError, match="colbert"):
        EvalOptions(methods=("bm25", "colbert"))


def test_hybrid_is_compared_with_the_best_single_method_dense_and_the_reference() -> None:
    result = EvalResult("scifact", "opensearch 3.6.0", 10, 2, "idx", False)
    row = {"ndcg@10": 0.5, "recall@100": 0.9, "mrr@10": 0.4, "p50_ms": 3.0, "p99_ms": 9.0}
    result.methods = {
        "bm25": {**row, "ndcg@10": 0.6},
        "dense": {**row, "ndcg@10": 0.5},
        "rrf": {**row, "ndcg@10": 0.66},
        "linear": {**row, "ndcg@10": 0.69},
    }
    result.reference = {"ndcg@10": 0.6, "recall@100": 0.9, "mrr@10": 0.5}
    gains = result.comparisons()
    assert gains == pytest.approx(
        {"over_best_single": 15.0, "over_dense": 38.0, "over_reference": 15.0}
    )
    table = markdown(result)
    assert "| reference: stemmed BM25 (bm25s) | | 0.6000 | 0.9000 | 0.5000 | - | - |" in table
    assert "+15.0% over the best single method, +38.0% over dense" in table
    assert "**0.6900**" in table  # the reference is not a method: it never takes the bold
    assert result.as_json()["comparisons"] == gains


def test_the_stemmed_reference_stems_and_drops_stop_words(tmp_path: Path) -> None:
    corpus = "".join(
        json.dumps({"_id": i, "title": t, "text": x}) + "\n"
        for i, t, x in [
            ("a", "Running shoes", "the runners ran in running shoes"),
            ("b", "Cooking", "a recipe for the best soup"),
            ("c", "Weather", "rain and wind in the north"),
        ]
    )
    folder = _beir(tmp_path / "mini", corpus)
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "the runs"}\n')
    dataset = Dataset.load(folder)
    docs = [d for d in dataset.documents() if isinstance(d, Document)]
    scores = stemmed_bm25(dataset, docs)
    assert scores["ndcg@10"] == pytest.approx(1.0)  # "runs" matches "running" only by stemming

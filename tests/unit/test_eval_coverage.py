"""``tandem eval`` warns when most judged documents are not in the corpus."""

from __future__ import annotations

from pathlib import Path

from tandem.plugin.evaluation.data import Dataset, coverage_warning, judged_coverage

QRELS = {"q1": {"a": 1, "b": 1}, "q2": {"b": 2, "c": 1, "d": 0}}


def _dataset() -> Dataset:
    return Dataset(Path("/data/scifact"), {"q1": "one", "q2": "two"}, QRELS)


def test_coverage_counts_each_judged_document_once() -> None:
    coverage = judged_coverage(QRELS, {"a", "b", "x"})
    assert (coverage.judged, coverage.missing) == (4, 2)
    assert coverage.share_missing == 0.5


def test_no_warning_while_at_most_half_are_missing() -> None:
    assert coverage_warning(_dataset(), {"a", "b", "c", "d"}) is None
    assert coverage_warning(_dataset(), {"a", "b"}) is None


def test_the_warning_gives_the_share_missing_and_what_to_check() -> None:
    warning = coverage_warning(_dataset(), {"a", "unrelated"})
    assert warning is not None
    assert "3 of 4 judged documents (75%)" in warning
    assert "/data/scifact/corpus.jsonl" in warning and "qrels/test.tsv" in warning


def test_an_unrelated_corpus_is_all_missing() -> None:
    warning = coverage_warning(_dataset(), {"x", "y"})
    assert warning is not None and "(100%)" in warning

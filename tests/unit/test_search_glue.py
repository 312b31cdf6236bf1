from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from tandem.encoders.sparse import SparseVector
from tandem.plugin.engines.errors import EngineRequestError, EngineServerError
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.partial import PartialResultsError
from tandem.plugin.search.searcher import Searcher

from ..capability_sets import ELASTICSEARCH_95

CAPS = ELASTICSEARCH_95


class FakeAdapter:
    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = responses
        self.searches: list[tuple[str, Mapping[str, Any]]] = []
        self.capabilities = CAPS

    def msearch(
        self,
        searches: Sequence[tuple[str, Mapping[str, Any]]],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> list[dict[str, Any]]:
        self.searches.extend(searches)
        return self.responses[: len(searches)]

    def search(
        self,
        index: str,
        body: Mapping[str, Any],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> dict[str, Any]:
        self.searches.append((index, body))
        ids = body["query"]["ids"]["values"]
        stored = {"a": {"title": "A", "year": 2001}, "b": {"title": "B"}}
        return {"hits": {"hits": [{"_id": i, "_source": stored[i]} for i in ids if i in stored]}}

    def get_mapping(self, name: str) -> dict[str, Any]:  # every field a search looks for
        types = {"title": "text", "text": "text", "embedding": "dense_vector"}
        types["sparse"] = "sparse_vector"
        return {"properties": {f: {"type": t} for f, t in types.items()}}


class FakeDense:
    def encode(self, texts: Sequence[str], kind: Any = None) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32) / 2


class FakeSparse:
    def encode(self, texts: Sequence[str]) -> list[SparseVector]:
        return [SparseVector(np.array([7]), np.array([1.5], np.float32), ("heart",))]


def _hits(*pairs: tuple[str, float]) -> dict[str, Any]:
    return {"hits": {"hits": [{"_id": i, "_score": s} for i, s in pairs]}}


def _searcher(responses: list[dict[str, Any]], **options: Any) -> tuple[Searcher, FakeAdapter]:
    adapter = FakeAdapter(responses)
    searcher = Searcher(adapter, FakeDense(), FakeSparse(), "sparse_vector", **options)  # type: ignore[arg-type]
    return searcher, adapter


# One shard of two failed (Elasticsearch 9.5.4's words, recorded over an alias whose
# indices map "year" differently).
SHARD_FAILED = {
    "timed_out": False,
    "_shards": {"total": 2, "successful": 1, "skipped": 0, "failed": 1, "failures": [
        {"shard": 0, "index": "rec-a", "reason": {
            "type": "query_shard_exception",
            "reason": "Can only use prefix queries on keyword, text and wildcard fields - not "
                      "on [year] which is of type [integer]"}}]},
}  # fmt: skip


def test_hybrid_sends_one_msearch_and_fuses() -> None:
    searcher, adapter = _searcher(
        [_hits(("a", 9.0), ("b", 3.0)), _hits(("b", 0.9), ("c", 0.8)), _hits(("c", 2.0))]
    )
    result = searcher.search("idx", "heart", SearchOptions(method="rrf", size=3))
    assert [name for name, _ in adapter.searches] == ["idx", "idx", "idx"]
    sparse_query = adapter.searches[2][1]["query"]
    assert "sparse_vector" in str(sparse_query) and "heart" in str(sparse_query)
    # b: 1/62 + 1/61, c: 1/62 + 1/61 -> tie broken by id; a: 1/61 alone, kept.
    assert [h.id for h in result.hits] == ["b", "c", "a"]
    assert result.hits[2].sources["bm25"].rank == 1


def test_single_method_keeps_the_engine_scores() -> None:
    searcher, adapter = _searcher([_hits(("a", 9.0), ("b", 3.0))])
    result = searcher.search("idx", "heart", SearchOptions(method="bm25"))
    assert [(h.id, h.score) for h in result.hits] == [("a", 9.0), ("b", 3.0)]
    assert len(adapter.searches) == 1


def test_document_fields_are_fetched_for_the_page_only() -> None:
    searcher, adapter = _searcher([_hits(("a", 9.0), ("b", 3.0), ("c", 1.0))])
    options = SearchOptions(method="bm25", size=2, document_fields=("title^2", "year"))
    result = searcher.search("idx", "heart", options)
    fetch = adapter.searches[-1][1]
    assert fetch == {
        "query": {"ids": {"values": ["a", "b"]}},
        "_source": ["title", "year"],
        "size": 2,
    }
    assert [h.document for h in result.hits] == [{"title": "A", "year": 2001}, {"title": "B"}]
    searcher, adapter = _searcher([_hits(("a", 9.0))])
    assert searcher.search("idx", "heart", SearchOptions(method="bm25")).hits[0].document == {}
    assert len(adapter.searches) == 1  # no fields asked for: no second request


def test_a_failed_sub_search_is_an_error_not_an_empty_list() -> None:
    searcher, _ = _searcher([{"error": {"type": "search_phase_execution_exception"}}])
    with pytest.raises(EngineRequestError, match="bm25 retriever failed"):
        searcher.search("idx", "heart", SearchOptions(method="bm25"))


@pytest.mark.parametrize(
    "bad", [{"method": "magic"}, {"size": 0}, {"start": -1}, {"start": 95, "size": 10}]
)
def test_bad_options(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SearchOptions(**bad)


def test_shard_failures_and_timeouts_are_reported_not_fused_silently() -> None:
    complete = {"timed_out": False, "_shards": {"total": 2, "successful": 2, "failed": 0}}
    searcher, _ = _searcher(
        [
            {**_hits(("a", 9.0)), **SHARD_FAILED},
            {**_hits(("b", 0.9)), **complete},
            {**_hits(("c", 2.0)), **complete, "timed_out": True},
        ]
    )
    result = searcher.search("alias", "heart", SearchOptions(method="rrf", size=3))
    assert [h.id for h in result.hits] == ["a", "b", "c"]  # still answered: partial is allowed
    assert result.partial and result.timed_out
    (failure,) = result.shard_failures
    assert failure.startswith("bm25: rec-a shard 0: query_shard_exception: Can only use prefix")
    whole, _ = _searcher([{**_hits(("a", 9.0)), **complete}])
    assert not whole.search("idx", "heart", SearchOptions(method="bm25")).partial


def test_partial_results_fail_when_the_operator_says_so() -> None:
    searcher, _ = _searcher([{**_hits(("a", 9.0)), **SHARD_FAILED}], partial_results="fail")
    with pytest.raises(PartialResultsError, match="1 shard failure") as caught:
        searcher.search("alias", "heart", SearchOptions(method="bm25"))
    assert isinstance(caught.value, EngineServerError)  # UNAVAILABLE over gRPC: retryable
    assert "partial-results" in str(caught.value)  # names the setting to change
    assert caught.value.completeness.shard_failures[0].startswith("bm25: rec-a shard 0")
    with pytest.raises(ValueError, match="allow or fail"):
        Searcher(FakeAdapter([]), None, None, None, partial_results="maybe")  # type: ignore[arg-type]


def test_weights_that_leave_a_fusion_nothing_are_refused_when_built() -> None:
    """Found by fuzzing: all-zero weights reached fusion and failed there (INTERNAL)."""
    with pytest.raises(ValueError, match="are all 0"):
        SearchOptions(method="rrf", weights={"bm25": 0, "dense": 0, "sparse": 0})
    SearchOptions(method="rrf", weights={"bm25": 0, "dense": 0})  # sparse keeps weight 1
    SearchOptions(method="bm25", weights={"bm25": 0})  # one retriever: weights do not apply

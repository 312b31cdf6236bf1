from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from tandem.encoders.sparse import SparseVector
from tandem.plugin.engines.errors import EngineRequestError
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from ..capability_sets import ELASTICSEARCH_95

CAPS = ELASTICSEARCH_95


class FakeAdapter:
    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = responses
        self.searches: list[tuple[str, Mapping[str, Any]]] = []
        self.capabilities = CAPS

    def msearch(
        self, searches: Sequence[tuple[str, Mapping[str, Any]]], timeout: float | None = None
    ) -> list[dict[str, Any]]:
        self.searches.extend(searches)
        return self.responses[: len(searches)]


class FakeDense:
    def encode(self, texts: Sequence[str], kind: Any = None) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32) / 2


class FakeSparse:
    def encode(self, texts: Sequence[str]) -> list[SparseVector]:
        return [SparseVector(np.array([7]), np.array([1.5], np.float32), ("heart",))]


def _hits(*pairs: tuple[str, float]) -> dict[str, Any]:
    return {"hits": {"hits": [{"_id": i, "_score": s} for i, s in pairs]}}


def _searcher(responses: list[dict[str, Any]]) -> tuple[Searcher, FakeAdapter]:
    adapter = FakeAdapter(responses)
    return Searcher(adapter, FakeDense(), FakeSparse(), "sparse_vector"), adapter  # type: ignore[arg-type]


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

"""Where fusion runs: native plans per engine and licence, auto fallback, pagination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from tandem.encoders.sparse import SparseVector
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.search.native import auto_skips_native, native_plan, page_request
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.request import SearchRequest
from tandem.plugin.search.searcher import Searcher

from ..capability_sets import ELASTICSEARCH_95, OPENSEARCH_36, OPENSEARCH_219

LICENSED_ES = replace(ELASTICSEARCH_95, license="enterprise", retrievers=("rrf", "linear"))


class RecordingAdapter:
    def __init__(self, caps: Any, ids: Sequence[str] = ("d1", "d2", "d3", "d4")) -> None:
        self.capabilities = caps
        self.ids = ids
        self.pipelines: list[tuple[str, Mapping[str, Any]]] = []
        self.searches: list[tuple[Mapping[str, Any], str | None]] = []
        self.msearches: list[Sequence[tuple[str, Mapping[str, Any]]]] = []

    def put_search_pipeline(self, name: str, body: Mapping[str, Any]) -> None:
        self.pipelines.append((name, body))

    def search(
        self,
        index: str,
        body: Mapping[str, Any],
        pipeline: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        self.searches.append((body, pipeline))
        hits = [{"_id": d, "_score": 1.0 / (i + 1)} for i, d in enumerate(self.ids)]
        return {"hits": {"hits": hits[: body["size"]]}}

    def msearch(
        self, searches: Sequence[tuple[str, Mapping[str, Any]]], timeout: float | None = None
    ) -> list[Any]:
        self.msearches.append(searches)
        hits = [{"_id": d, "_score": 1.0 / (i + 1)} for i, d in enumerate(self.ids)]
        return [{"hits": {"hits": hits}} for _ in searches]


class Dense:
    def encode(self, texts: Sequence[str], kind: Any = None) -> np.ndarray:
        return np.full((len(texts), 4), 0.5, dtype=np.float32)


class Sparse:
    def encode(self, texts: Sequence[str]) -> list[SparseVector]:
        return [SparseVector(np.array([7]), np.array([1.5], np.float32), ("heart",))]


def searcher(caps: Any) -> tuple[Searcher, RecordingAdapter]:
    adapter = RecordingAdapter(caps)
    sparse_type = "rank_features" if caps.rank_features else "sparse_vector"
    return Searcher(adapter, Dense(), Sparse(), sparse_type), adapter  # type: ignore[arg-type]


def test_opensearch_auto_runs_a_hybrid_query_through_a_managed_pipeline() -> None:
    s, adapter = searcher(OPENSEARCH_36)
    first = s.search("idx", "heart", SearchOptions(method="rrf", size=2, start=1))
    s.search("idx", "heart", SearchOptions(method="rrf", size=2))
    assert first.mode == "native"
    assert [h.id for h in first.hits] == ["d2", "d3"]  # engines page from the top
    ((name, body),) = adapter.pipelines  # created once, then reused
    assert name.startswith("tandem-rrf-")
    assert "score-ranker-processor" in body["phase_results_processors"][0]
    sent, pipeline = adapter.searches[0]
    assert pipeline == name and sent["size"] == 3
    assert len(sent["query"]["hybrid"]["queries"]) == 3
    assert adapter.msearches == []


def test_native_hits_carry_no_explain_data_and_explain_keeps_the_sidecar() -> None:
    s, _ = searcher(OPENSEARCH_36)
    assert all(not h.sources for h in s.search("idx", "q", SearchOptions()).hits)
    explained = s.search("idx", "q", SearchOptions(explain=True))
    assert explained.mode == "sidecar" and explained.hits[0].sources
    with pytest.raises(ValueError, match="explain needs"):
        SearchOptions(mode="native", explain=True)


def test_elasticsearch_basic_falls_back_in_auto_and_refuses_native() -> None:
    s, adapter = searcher(ELASTICSEARCH_95)
    assert s.search("idx", "q", SearchOptions(method="linear")).mode == "sidecar"
    with pytest.raises(CapabilityError, match="Enterprise"):
        s.search("idx", "q", SearchOptions(method="linear", mode="native"))
    assert adapter.searches == []


def test_licensed_elasticsearch_runs_a_retriever() -> None:
    s, adapter = searcher(LICENSED_ES)
    result = s.search("idx", "q", SearchOptions(method="linear", weights={"dense": 3.0}))
    assert result.mode == "native"
    body, pipeline = adapter.searches[0]
    assert pipeline is None
    linear = body["retriever"]["linear"]
    assert [c["weight"] for c in linear["retrievers"]] == [0.2, 0.6, 0.2]


def test_sidecar_mode_never_asks_the_engine_to_fuse() -> None:
    s, adapter = searcher(OPENSEARCH_36)
    assert s.search("idx", "q", SearchOptions(mode="sidecar")).mode == "sidecar"
    assert adapter.searches == [] and adapter.pipelines == []
    assert s.search("idx", "q", SearchOptions(method="bm25")).mode == "single"


def test_opensearch_z_score_stays_in_the_sidecar_unless_native_is_asked() -> None:
    assert auto_skips_native(OPENSEARCH_36, "linear", "z_score")
    assert auto_skips_native(OPENSEARCH_36, "linear", "min_max") is None
    s, _ = searcher(OPENSEARCH_36)
    options = SearchOptions(method="linear", normalization="z_score")
    assert s.search("idx", "q", options).mode == "sidecar"
    assert s.search("idx", "q", replace(options, mode="native")).mode == "native"


def test_opensearch_219_has_no_weighted_rrf_pipeline() -> None:
    s, _ = searcher(OPENSEARCH_219)
    weighted = SearchOptions(method="rrf", weights={"bm25": 2.0})
    assert s.search("idx", "q", weighted).mode == "sidecar"
    with pytest.raises(CapabilityError, match=r"3\.1"):
        s.search("idx", "q", replace(weighted, mode="native"))


def test_rewrite_reports_the_mode_and_the_pipeline() -> None:
    s, _ = searcher(OPENSEARCH_36)
    native = s.rewrite("idx", "q", SearchOptions(method="linear", normalization="l2"))
    assert native.mode == "native" and native.native is not None
    assert native.native.pipeline is not None and native.native.pipeline.startswith("tandem-")
    sidecar = s.rewrite("idx", "q", SearchOptions(mode="sidecar"))
    assert sidecar.mode == "sidecar" and set(sidecar.queries) == {"bm25", "dense", "sparse"}


def test_native_plan_needs_two_retrievers_and_pages_from_the_top() -> None:
    request = SearchRequest(index="idx", text="q", k=10, window=20)
    with pytest.raises(CapabilityError):
        native_plan(
            request, OPENSEARCH_36, ("bm25",), method="rrf", normalization="min_max",
            weights={}, rank_constant=60, sparse_type=None,
        )  # fmt: skip
    paged = page_request(request, start=15, size=10)
    assert (paged.k, paged.window) == (25, 25)

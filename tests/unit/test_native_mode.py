"""Where fusion runs: native plans per engine and licence, auto fallback, pagination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from tandem.encoders.sparse import SparseVector
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.search.native import (
    NATIVE_MAX_DOCS,
    auto_skips_native,
    native_plan,
    page_request,
)
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.request import SearchRequest
from tandem.plugin.search.searcher import Searcher

from ..capability_sets import ELASTICSEARCH_95, OPENSEARCH_36, OPENSEARCH_219

LICENSED_ES = replace(ELASTICSEARCH_95, license="enterprise", retrievers=("rrf", "linear"))
# OpenSearch 2.10-2.18: hybrid query and normalization processor, no pagination_depth, no RRF.
OPENSEARCH_218 = replace(OPENSEARCH_219, version=(2, 18, 0), rrf_pipeline=False)


class RecordingAdapter:
    def __init__(
        self,
        caps: Any,
        ids: Sequence[str] = ("d1", "d2", "d3", "d4"),
        extra: Mapping[str, Any] | None = None,
        shards: int = 1,
        docs: int = 1000,
    ) -> None:
        self.capabilities = caps
        self.shards = shards
        self.docs = docs
        self.requests: list[str] = []
        self.ids = ids
        self.extra = dict(extra or {})  # merged into every response (timed_out, _shards)
        self.pipelines: list[tuple[str, Mapping[str, Any]]] = []
        self.searches: list[tuple[Mapping[str, Any], str | None]] = []
        self.msearches: list[Sequence[tuple[str, Mapping[str, Any]]]] = []
        self.preferences: list[str | None] = []

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(path)
        assert path.startswith("/_cat/indices/"), path
        index = path.removeprefix("/_cat/indices/")
        row = {"index": index, "pri": str(self.shards), "docs.count": str(self.docs)}
        return {"answer": [row]}  # as the adapters return a JSON array

    def put_search_pipeline(self, name: str, body: Mapping[str, Any]) -> None:
        self.pipelines.append((name, body))

    def get_mapping(self, name: str) -> dict[str, Any]:
        # A flat index: rewrite reads the dense field's layout (passages or not).
        return {"properties": {"embedding": {"type": "knn_vector"}}}

    def search(
        self,
        index: str,
        body: Mapping[str, Any],
        pipeline: str | None = None,
        timeout: float | None = None,
        preference: str | None = None,
    ) -> Any:
        self.searches.append((body, pipeline))
        self.preferences.append(preference)
        hits = [{"_id": d, "_score": 1.0 / (i + 1)} for i, d in enumerate(self.ids)]
        return {**self.extra, "hits": {"hits": hits[: body["size"]]}}

    def msearch(
        self,
        searches: Sequence[tuple[str, Mapping[str, Any]]],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> list[Any]:
        self.msearches.append(searches)
        self.preferences.append(preference)
        hits = [{"_id": d, "_score": 1.0 / (i + 1)} for i, d in enumerate(self.ids)]
        return [{**self.extra, "hits": {"hits": hits}} for _ in searches]


class Dense:
    def encode(self, texts: Sequence[str], kind: Any = None) -> np.ndarray:
        return np.full((len(texts), 4), 0.5, dtype=np.float32)


class Sparse:
    def encode(self, texts: Sequence[str]) -> list[SparseVector]:
        return [SparseVector(np.array([7]), np.array([1.5], np.float32), ("heart",))]


def searcher(caps: Any, **adapter_options: Any) -> tuple[Searcher, RecordingAdapter]:
    adapter = RecordingAdapter(caps, **adapter_options)
    sparse_type = "rank_features" if caps.rank_features else "sparse_vector"
    return Searcher(adapter, Dense(), Sparse(), sparse_type), adapter  # type: ignore[arg-type]


def _weights(body: Mapping[str, Any]) -> list[float]:
    processor = body["search_pipeline"]["phase_results_processors"][0]
    config = processor.get("normalization-processor") or processor["score-ranker-processor"]
    return list(config["combination"]["parameters"]["weights"])


def test_opensearch_auto_runs_a_hybrid_query_with_its_pipeline_inside() -> None:
    s, adapter = searcher(OPENSEARCH_36)
    first = s.search("idx", "heart", SearchOptions(method="rrf", size=2, start=1))
    assert first.mode == "native"
    assert [h.id for h in first.hits] == ["d2", "d3"]  # engines page from the top
    ((sent, pipeline),) = adapter.searches
    assert pipeline is None  # no named pipeline: the request carries its own
    processors = sent["search_pipeline"]["phase_results_processors"]
    assert processors == [
        {"score-ranker-processor": {"combination": {"technique": "rrf", "rank_constant": 60}}}
    ]
    assert sent["size"] == 3 and len(sent["query"]["hybrid"]["queries"]) == 3
    assert adapter.msearches == [] and adapter.pipelines == []


def test_any_number_of_weight_vectors_creates_no_persistent_pipeline() -> None:
    s, adapter = searcher(OPENSEARCH_36)
    for i in range(1, 201):
        weights = {"bm25": float(i), "dense": 1.0, "sparse": 1.0}
        s.search("idx", "heart", SearchOptions(method="linear", weights=weights))
        s.search("idx", "heart", SearchOptions(method="rrf", weights=weights))
    assert adapter.pipelines == []
    assert len(adapter.searches) == 400
    for n, (body, pipeline) in enumerate(adapter.searches):
        i = n // 2 + 1
        assert pipeline is None
        assert _weights(body) == pytest.approx([i / (i + 2), 1 / (i + 2), 1 / (i + 2)])


def test_opensearch_without_request_scoped_pipelines_fuses_in_the_sidecar() -> None:
    # Hand-made: OpenSearch takes a pipeline in the request body since 2.9 and has the
    # hybrid query since 2.10, so no detected engine lands here; the rule still holds.
    old = replace(OPENSEARCH_218, version=(2, 8, 0))
    s, adapter = searcher(old)
    assert s.search("idx", "q", SearchOptions(method="linear")).mode == "sidecar"
    with pytest.raises(CapabilityError, match=r"pipeline in the request .*2\.9"):
        s.search("idx", "q", SearchOptions(method="linear", mode="native"))
    assert adapter.searches == [] and adapter.pipelines == []


def test_opensearch_before_219_fetches_the_window_so_native_fusion_honours_it() -> None:
    # Without pagination_depth each hybrid sub-query keeps only size hits per shard:
    # asking for window hits (and slicing the page here) keeps window candidates.
    s, adapter = searcher(OPENSEARCH_218)
    options = SearchOptions(method="linear", start=1, size=2, window=40)
    result = s.search("idx", "q", options)
    assert result.mode == "native"
    ((body, _),) = adapter.searches
    assert body["size"] == 40 and "pagination_depth" not in body["query"]["hybrid"]
    assert [h.id for h in result.hits] == ["d2", "d3"]
    # 2.19 and later: size is the page's end, pagination_depth the window.
    s, adapter = searcher(OPENSEARCH_219)
    s.search("idx", "q", options)
    ((body, _),) = adapter.searches
    assert body["size"] == 3 and body["query"]["hybrid"]["pagination_depth"] == 40
    assert s.rewrite("idx", "q", options).queries["hybrid"] == body


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


def test_opensearch_auto_fuses_a_large_index_in_the_sidecar() -> None:
    """OpenSearch's hybrid query grows much faster with the index than the same fusion
    over _msearch (docs/scale.md): past NATIVE_MAX_DOCS, auto fuses in the sidecar."""
    large = NATIVE_MAX_DOCS + 1
    reason = auto_skips_native(OPENSEARCH_36, "rrf", "min_max", 1, large)
    assert reason is not None and f"{large:,}" in reason
    assert auto_skips_native(OPENSEARCH_36, "rrf", "min_max", 1, NATIVE_MAX_DOCS) is None
    assert auto_skips_native(OPENSEARCH_36, "rrf", "min_max", 1, None) is None  # unknown
    assert auto_skips_native(LICENSED_ES, "rrf", "min_max", 1, large) is None
    s, _ = searcher(OPENSEARCH_36, docs=large)
    assert s.search("idx", "q", SearchOptions(method="rrf")).mode == "sidecar"
    assert s.search("idx", "q", SearchOptions(method="rrf", mode="native")).mode == "native"
    small, _ = searcher(OPENSEARCH_36, docs=NATIVE_MAX_DOCS)
    assert small.search("idx", "q", SearchOptions(method="rrf")).mode == "native"


@pytest.mark.parametrize("mode", ["native", "sidecar"])
def test_every_page_of_a_query_goes_to_the_same_shard_copies(mode: str) -> None:
    """Replicas build their own segments, so their HNSW graphs (and kNN answers) differ:
    the pages of one query must read the same copies to concatenate, so every search
    of a query carries one ``preference``, and other queries spread over the copies."""
    s, adapter = searcher(OPENSEARCH_36)
    for start in (0, 10, 20):
        s.search("idx", "heart", SearchOptions(mode=mode, start=start))  # type: ignore[arg-type]
    s.search("idx", "lung", SearchOptions(mode=mode))  # type: ignore[arg-type]
    heart, lung = adapter.preferences[:3], adapter.preferences[3]
    assert heart[0] is not None and heart == [heart[0]] * 3
    assert lung is not None and lung != heart[0]


def test_opensearch_219_has_no_weighted_rrf_pipeline() -> None:
    s, _ = searcher(OPENSEARCH_219)
    weighted = SearchOptions(method="rrf", weights={"bm25": 2.0})
    assert s.search("idx", "q", weighted).mode == "sidecar"
    with pytest.raises(CapabilityError, match=r"3\.1"):
        s.search("idx", "q", replace(weighted, mode="native"))


def test_rewrite_reports_the_mode_and_the_request_search_sends() -> None:
    s, adapter = searcher(OPENSEARCH_36)
    options = SearchOptions(method="linear", normalization="l2", weights={"dense": 2.0})
    native = s.rewrite("idx", "q", options)
    assert native.mode == "native" and native.native is not None
    pipeline = native.native.pipeline_body
    assert pipeline is not None and native.queries["hybrid"]["search_pipeline"] == pipeline
    s.search("idx", "q", options)
    assert adapter.searches == [(native.queries["hybrid"], None)]
    sidecar = s.rewrite("idx", "q", SearchOptions(mode="sidecar"))
    assert sidecar.mode == "sidecar" and set(sidecar.queries) == {"bm25", "dense", "sparse"}
    assert sidecar.native is None


def test_native_plan_needs_two_retrievers_and_pages_from_the_top() -> None:
    request = SearchRequest(index="idx", text="q", k=10, window=20)
    with pytest.raises(CapabilityError):
        native_plan(
            request, OPENSEARCH_36, ("bm25",), method="rrf", normalization="min_max",
            weights={}, rank_constant=60, sparse_type=None,
        )  # fmt: skip
    paged = page_request(request, start=15, size=10)
    assert (paged.k, paged.window) == (25, 25)


# OpenSearch 3.6.0, a _search that ran past its timeout (recorded; 2 shards, 1 ms).
TIMED_OUT = {
    "took": 89,
    "timed_out": True,
    "_shards": {"total": 2, "successful": 2, "skipped": 0, "failed": 0},
}


def test_a_timed_out_native_search_is_partial() -> None:
    s, _ = searcher(OPENSEARCH_36, extra=TIMED_OUT)
    result = s.search("idx", "q", SearchOptions(method="rrf"))
    assert result.mode == "native"
    assert result.partial and result.timed_out and result.shard_failures == ()
    complete, _ = searcher(OPENSEARCH_36)
    assert not complete.search("idx", "q", SearchOptions(method="rrf")).partial


def test_opensearch_auto_fuses_a_multi_shard_index_in_the_sidecar() -> None:
    assert auto_skips_native(OPENSEARCH_36, "rrf", "min_max", 3)
    assert auto_skips_native(OPENSEARCH_36, "rrf", "min_max", None) is None  # unknown
    assert auto_skips_native(LICENSED_ES, "rrf", "min_max", 3) is None
    s, adapter = searcher(OPENSEARCH_36, shards=3)
    assert s.search("idx", "q", SearchOptions(method="rrf")).mode == "sidecar"
    assert s.search("idx", "q", SearchOptions(method="linear")).mode == "sidecar"
    assert adapter.requests == ["/_cat/indices/idx"]  # learnt once
    native = s.search("idx", "q", SearchOptions(method="rrf", mode="native"))
    assert native.mode == "native"  # still runs on request

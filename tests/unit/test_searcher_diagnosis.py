"""When the searcher reads the mapping: only after a retriever failed or found nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from tandem.encoders.sparse import SparseVector
from tandem.plugin.engines.errors import CapabilityError, EngineBadRequest
from tandem.plugin.search.diagnose import MissingField
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from ..capability_sets import ELASTICSEARCH_95, OPENSEARCH_36

TEXT_ONLY = {"properties": {"title": {"type": "text"}, "text": {"type": "text"}}}
OS_ERROR = {
    "status": 400,
    "error": {
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "root_cause": [{"type": "query_shard_exception", "reason": "Field 'embedding' is odd"}],
    },
}


class Adapter:
    """Answers each sub-search with the next response; counts mapping reads."""

    def __init__(
        self, responses: list[dict[str, Any]], mapping: Any = TEXT_ONLY, caps: Any = None
    ) -> None:
        self.responses = responses
        self.mapping = mapping
        self.mapping_reads = 0
        self.capabilities = caps or ELASTICSEARCH_95

    def msearch(
        self,
        searches: Sequence[tuple[str, Mapping[str, Any]]],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> list[dict[str, Any]]:
        return self.responses[: len(searches)]

    def search(
        self,
        index: str,
        body: Mapping[str, Any],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> Any:
        response = self.responses[0]
        if "error" in response:
            raise EngineBadRequest("search in idx failed: all shards failed", 400)
        return response

    def get_mapping(self, name: str) -> dict[str, Any]:
        self.mapping_reads += 1
        if isinstance(self.mapping, Exception):
            raise self.mapping
        result: dict[str, Any] = self.mapping
        return result


class Dense:
    def encode(self, texts: Sequence[str], kind: Any = None) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def _hits(*ids: str) -> dict[str, Any]:
    return {"hits": {"hits": [{"_id": i, "_score": 1.0} for i in ids]}}


class Sparse:
    def encode(self, texts: Sequence[str]) -> list[SparseVector]:
        return [SparseVector(np.array([7]), np.array([1.5], np.float32), ("heart",))]


def _search(adapter: Adapter, **options: Any) -> Any:
    searcher = Searcher(adapter, Dense(), Sparse(), "rank_features")  # type: ignore[arg-type]
    return searcher.search("idx", "heart", SearchOptions(**options))


def test_a_failed_retriever_names_the_missing_field() -> None:
    adapter = Adapter([OS_ERROR])
    with pytest.raises(MissingField, match="index 'idx' has no field 'embedding' for the dense"):
        _search(adapter, method="dense")
    assert adapter.mapping_reads == 1


def test_a_retriever_that_found_nothing_is_checked_too() -> None:
    # Elasticsearch answers a kNN search on a missing field with 0 hits, not an error
    with pytest.raises(MissingField, match="for the dense retriever"):
        _search(Adapter([_hits()]), method="dense")


def test_a_search_that_found_something_reads_no_mapping() -> None:
    adapter = Adapter([_hits("a")])
    assert [h.id for h in _search(adapter, method="dense").hits] == ["a"]
    assert adapter.mapping_reads == 0


def test_when_the_fields_are_there_the_engine_error_stands_with_its_root_cause() -> None:
    mapping = {"properties": {"embedding": {"type": "dense_vector"}}}
    with pytest.raises(EngineBadRequest, match=r"all shards failed \(Field 'embedding' is odd\)"):
        _search(Adapter([OS_ERROR], mapping), method="dense")
    assert _search(Adapter([_hits()], mapping), method="dense").hits == []


def test_a_mapping_that_cannot_be_read_leaves_the_engine_answer() -> None:
    several = CapabilityError("logs-* names 2 indices")
    assert _search(Adapter([_hits()], several), method="dense").hits == []


def test_native_fusion_is_checked_when_it_fails_or_finds_nothing() -> None:
    caps = OPENSEARCH_36
    with pytest.raises(MissingField, match="has no field 'embedding' for the dense"):
        _search(Adapter([OS_ERROR], caps=caps), method="linear", mode="native")
    with pytest.raises(MissingField, match="has no field 'embedding'"):
        _search(Adapter([_hits()], caps=caps), method="linear", mode="native")
    found = Adapter([_hits("a")], caps=caps)
    assert _search(found, method="linear", mode="native").mode == "native"
    assert found.mapping_reads == 0


NESTED = {
    "properties": {
        "text": {"type": "text"},
        "embedding": {"type": "nested", "properties": {"vector": {"type": "knn_vector"}}},
    }
}


class LayoutEngine(Adapter):
    """Fails a kNN written for the wrong layout, as both engines do; records the bodies."""

    def __init__(self, mapping: dict[str, Any], caps: Any = OPENSEARCH_36) -> None:
        super().__init__([], mapping, caps)
        self.bodies: list[Mapping[str, Any]] = []

    def msearch(
        self,
        searches: Sequence[tuple[str, Mapping[str, Any]]],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> list[dict[str, Any]]:
        self.bodies.extend(body for _, body in searches)
        nested = self.mapping is NESTED
        out = []
        for _, body in searches:
            query = body.get("query", {})
            if ("nested" in query) == nested:
                out.append(_hits("a"))
            else:
                out.append(OS_ERROR)
        return out


def test_a_passage_index_is_learnt_from_the_failure_and_searched_again() -> None:
    engine = LayoutEngine(NESTED)
    searcher = Searcher(engine, Dense(), Sparse(), "rank_features")  # type: ignore[arg-type]
    options = SearchOptions(method="dense")
    assert [h.id for h in searcher.search("idx", "heart", options).hits] == ["a"]
    assert engine.mapping_reads == 1
    flat, nested = engine.bodies
    assert "knn" in flat["query"]
    assert nested["query"]["nested"]["path"] == "embedding"
    # Learnt: the next search goes straight to the nested query, reading nothing.
    assert [h.id for h in searcher.search("idx", "heart", options).hits] == ["a"]
    assert engine.mapping_reads == 1 and len(engine.bodies) == 3
    # The index recreated flat: the nested query fails, and the searcher learns again.
    engine.mapping = {"properties": {"embedding": {"type": "knn_vector"}}}
    assert [h.id for h in searcher.search("idx", "heart", options).hits] == ["a"]
    assert engine.mapping_reads == 2
    assert "knn" in engine.bodies[-1]["query"]


def test_a_flat_index_is_never_asked_about_its_layout() -> None:
    engine = LayoutEngine({"properties": {"embedding": {"type": "knn_vector"}}})
    searcher = Searcher(engine, Dense(), Sparse(), "rank_features")  # type: ignore[arg-type]
    for _ in range(3):
        searcher.search("idx", "heart", SearchOptions(method="rrf", mode="sidecar"))
    assert engine.mapping_reads == 0


def test_rewrite_reads_the_layout_once() -> None:
    engine = LayoutEngine(NESTED)
    searcher = Searcher(engine, Dense(), Sparse(), "rank_features")  # type: ignore[arg-type]
    for _ in range(2):
        rewritten = searcher.rewrite("idx", "heart", SearchOptions(method="dense", mode="sidecar"))
        assert rewritten.queries["dense"]["query"]["nested"]["path"] == "embedding"
    assert engine.mapping_reads == 1

"""Score fusion on hand-made lists; every expected value is worked out in a comment."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tandem.plugin.search.fusion import (
    FusedHit,
    FusionConfig,
    RetrieverHits,
    Source,
    fuse,
    normalize,
    paginate,
)

BM25 = RetrieverHits("bm25", (("a", 10.0), ("b", 8.0), ("c", 5.0)))
DENSE = RetrieverHits("dense", (("c", 0.9), ("a", 0.8), ("d", 0.1)))


def ids(hits: list[FusedHit]) -> list[str]:
    return [hit.id for hit in hits]


def scores(hits: list[FusedHit]) -> dict[str, float]:
    return {hit.id: hit.score for hit in hits}


# --- RRF ---------------------------------------------------------------------


def test_rrf_with_k_60_and_weights() -> None:
    fused = fuse([BM25, DENSE], FusionConfig(weights={"bm25": 2.0, "dense": 1.0}))
    # a: 2/61 + 1/62 = 0.0327869 + 0.0161290 = 0.0489159
    # c: 2/63 + 1/61 = 0.0317460 + 0.0163934 = 0.0481394
    # b: 2/62        = 0.0322581
    # d: 1/63        = 0.0158730
    assert ids(fused) == ["a", "c", "b", "d"]
    assert scores(fused) == pytest.approx(
        {"a": 2 / 61 + 1 / 62, "c": 2 / 63 + 1 / 61, "b": 2 / 62, "d": 1 / 63}
    )


def test_rrf_rank_constant_changes_the_order() -> None:
    # k=1, equal weights: a = 1/2 + 1/3 = 0.8333, c = 1/4 + 1/2 = 0.75, b = 1/3, d = 1/4
    fused = fuse([BM25, DENSE], FusionConfig(rank_constant=1))
    assert ids(fused) == ["a", "c", "b", "d"]
    assert scores(fused) == pytest.approx({"a": 5 / 6, "c": 0.75, "b": 1 / 3, "d": 0.25})


def test_rrf_zero_weight_keeps_documents_at_score_zero() -> None:
    # dense adds nothing: a = 1/61, b = 1/62, c = 1/63, d = 0 (still listed)
    fused = fuse([BM25, DENSE], FusionConfig(weights={"dense": 0.0}))
    assert ids(fused) == ["a", "b", "c", "d"]
    assert scores(fused) == pytest.approx({"a": 1 / 61, "b": 1 / 62, "c": 1 / 63, "d": 0.0})


# --- linear ------------------------------------------------------------------


def test_linear_min_max_with_weights() -> None:
    config = FusionConfig(method="linear", weights={"bm25": 3.0, "dense": 1.0})
    fused = fuse([BM25, DENSE], config)
    # shares 3/4 and 1/4
    # bm25 min_max over [10, 8, 5]: a 1, b (8-5)/5 = 0.6, c 0
    # dense min_max over [0.9, 0.8, 0.1]: c 1, a 0.7/0.8 = 0.875, d 0
    # a: 0.75*1 + 0.25*0.875 = 0.96875; b: 0.75*0.6 = 0.45; c: 0.25*1 = 0.25; d: 0
    assert ids(fused) == ["a", "b", "c", "d"]
    assert scores(fused) == pytest.approx({"a": 0.96875, "b": 0.45, "c": 0.25, "d": 0.0})


def test_linear_z_score_absent_gets_the_lowest_z() -> None:
    bm25 = RetrieverHits("bm25", (("a", 3.0), ("b", 2.0), ("c", 1.0)))
    dense = RetrieverHits("dense", (("b", 4.0), ("d", 0.0)))
    fused = fuse([bm25, dense], FusionConfig(method="linear", normalization="z_score"))
    # bm25: mean 2, population std sqrt(2/3), so z = a +s, b 0, c -s with s = sqrt(3/2)
    # dense: mean 2, std 2, so z = b +1, d -1
    # equal shares 1/2; absent → that retriever's lowest z (-s for bm25, -1 for dense)
    # b: (0 + 1)/2 = 0.5
    # a: (s + -1)/2 = 0.1123724
    # c: (-s + -1)/2 = -1.1123724
    # d: (-s [absent] + -1)/2 = -1.1123724 → ties with c, broken by id
    s = math.sqrt(1.5)
    assert ids(fused) == ["b", "a", "c", "d"]
    assert scores(fused) == pytest.approx(
        {"b": 0.5, "a": (s - 1) / 2, "c": (-s - 1) / 2, "d": (-s - 1) / 2}
    )
    assert fused[2].score == fused[3].score


def test_linear_l2_with_weights() -> None:
    bm25 = RetrieverHits("bm25", (("b", 4.0), ("a", 3.0)))
    dense = RetrieverHits("dense", (("c", 12.0), ("a", 5.0)))
    config = FusionConfig(method="linear", normalization="l2", weights={"bm25": 1, "dense": 3})
    fused = fuse([bm25, dense], config)
    # bm25 norm 5: b 0.8, a 0.6; dense norm 13: c 12/13, a 5/13; shares 1/4 and 3/4
    # c: 0.75*12/13 = 0.6923077
    # a: 0.25*0.6 + 0.75*5/13 = 0.15 + 0.2884615 = 0.4384615
    # b: 0.25*0.8 = 0.2
    assert ids(fused) == ["c", "a", "b"]
    assert scores(fused) == pytest.approx({"c": 9 / 13, "a": 0.15 + 3.75 / 13, "b": 0.2})


@pytest.mark.parametrize(
    ("raw", "method", "expected"),
    [
        ([2.0, 4.0, 6.0], "min_max", [0.0, 0.5, 1.0]),
        ([5.0, 5.0], "min_max", [1.0, 1.0]),  # all equal: all equally the best
        ([7.0], "min_max", [1.0]),
        ([1.0, 3.0], "z_score", [-1.0, 1.0]),  # mean 2, std 1
        ([4.0, 4.0], "z_score", [0.0, 0.0]),  # std 0
        ([3.0, 4.0], "l2", [0.6, 0.8]),  # norm 5
        ([3.0, -4.0], "l2", [0.6, -0.8]),
        ([0.0, 0.0], "l2", [0.0, 0.0]),  # norm 0
        ([1e308, -1e308], "min_max", [1.0, 0.0]),  # max - min would overflow
        ([1e200, 1e200], "l2", [math.sqrt(0.5)] * 2),  # squares would overflow
        ([1e-200, 3e-200], "z_score", [-1.0, 1.0]),  # variance would underflow
        ([], "min_max", []),
    ],
)
def test_normalize(raw: list[float], method: Any, expected: list[float]) -> None:
    assert normalize(raw, method) == pytest.approx(expected)


def test_normalize_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown normalization 'max'"):
        normalize([1.0], "max")  # type: ignore[arg-type]


# --- documents found by one retriever ----------------------------------------


def test_rrf_document_from_one_retriever_keeps_its_place() -> None:
    # solo: rank 1 in bm25 only = 1/61 = 0.0163934
    # low: rank 71 in both = 2/131 = 0.0152672, below solo
    bm25 = RetrieverHits(
        "bm25", (("solo", 9.0), *((f"bm{i}", 8.0 - i / 100) for i in range(69)), ("low", 1.0))
    )
    dense = RetrieverHits("dense", (*((f"dn{i}", 0.9 - i / 100) for i in range(70)), ("low", 0.1)))
    fused = fuse([bm25, dense], FusionConfig())
    assert len(fused) == 1 + 69 + 70 + 1
    # dn0 (rank 1 in dense) also scores 1/61: tie, and "dn0" < "solo"
    assert ids(fused)[:3] == ["dn0", "solo", "bm0"]
    assert ids(fused).index("solo") < ids(fused).index("low")
    assert fused[1].sources == {"bm25": Source(1, 9.0)}
    assert fused[1].score == pytest.approx(1 / 61)


def test_linear_document_from_one_retriever_keeps_its_place() -> None:
    bm25 = RetrieverHits("bm25", (("solo", 10.0), ("x", 9.0), ("low", 1.0)))
    dense = RetrieverHits("dense", (("y", 0.9), ("z", 0.5), ("low", 0.1)))
    fused = fuse([bm25, dense], FusionConfig(method="linear"))
    # solo: 1/2*1 = 0.5; y: 1/2*1 = 0.5 (tie, "solo" < "y"); x: 1/2*8/9 = 0.4444
    # z: 1/2*0.4/0.8 = 0.25; low: 0 + 0 = 0
    assert ids(fused) == ["solo", "y", "x", "z", "low"]
    assert scores(fused) == pytest.approx({"solo": 0.5, "y": 0.5, "x": 4 / 9, "z": 0.25, "low": 0})


# --- ties, empties, window ---------------------------------------------------


def test_ties_are_broken_by_id_whatever_the_retriever_order() -> None:
    # every document scores 1/61 + 1/62 + 1/63, summed in a different order each time
    results = [
        RetrieverHits("r1", (("c", 3.0), ("a", 2.0), ("b", 1.0))),
        RetrieverHits("r2", (("a", 3.0), ("b", 2.0), ("c", 1.0))),
        RetrieverHits("r3", (("b", 3.0), ("c", 2.0), ("a", 1.0))),
    ]
    for config in (FusionConfig(), FusionConfig(method="linear")):
        fused = fuse(results, config)
        assert ids(fused) == ["a", "b", "c"]
        assert len({hit.score for hit in fused}) == 1
        assert ids(fuse(results[::-1], config)) == ["a", "b", "c"]


def test_empty_retrievers_contribute_nothing() -> None:
    empty = RetrieverHits("sparse")
    fused = fuse([empty, DENSE], FusionConfig())
    # as dense alone: c 1/61, a 1/62, d 1/63
    assert ids(fused) == ["c", "a", "d"]
    assert scores(fused) == pytest.approx({"c": 1 / 61, "a": 1 / 62, "d": 1 / 63})
    # linear: the empty retriever still holds its share, so dense's min_max halves
    # c 1/2*1, a 1/2*0.875, d 0
    fused = fuse([empty, DENSE], FusionConfig(method="linear", normalization="z_score"))
    assert ids(fused) == ["c", "a", "d"]
    fused = fuse([empty, DENSE], FusionConfig(method="linear"))
    assert scores(fused) == pytest.approx({"c": 0.5, "a": 0.4375, "d": 0.0})


def test_all_empty_gives_an_empty_list() -> None:
    assert fuse([RetrieverHits("bm25"), RetrieverHits("dense")], FusionConfig()) == []
    assert fuse([], FusionConfig(method="linear")) == []


def test_window_ignores_hits_past_it() -> None:
    bm25 = RetrieverHits("bm25", (("a", 10.0), ("b", 8.0), ("c", 0.0)))
    dense = RetrieverHits("dense", (("c", 0.9), ("d", 0.5)))
    fused = fuse([bm25, dense], FusionConfig(window=2))
    # c at bm25 rank 3 = window + 1 is ignored: c = 1/61 from dense only
    # a 1/61, c 1/61 (tie, a first), b 1/62, d 1/62
    assert ids(fused) == ["a", "c", "b", "d"]
    assert dict(fused[1].sources) == {"dense": Source(1, 0.9)}
    assert fused[1].score == pytest.approx(1 / 61)
    # linear normalises over the window only: bm25 min_max over [10, 8] gives a 1, b 0
    # a 1/2, c 1/2*1 (dense), b 0, d 0
    fused = fuse([bm25, dense], FusionConfig(method="linear", window=2))
    assert scores(fused) == pytest.approx({"a": 0.5, "c": 0.5, "b": 0.0, "d": 0.0})
    # a document only past the window in every retriever is not listed at all
    only_past = RetrieverHits("bm25", (("a", 2.0), ("z", 1.0)))
    assert ids(fuse([only_past], FusionConfig(window=1))) == ["a"]


# --- explain -----------------------------------------------------------------


def test_explain_has_one_based_ranks_and_raw_scores() -> None:
    fused = {hit.id: hit for hit in fuse([BM25, DENSE], FusionConfig(method="linear"))}
    assert fused["a"].sources == {"bm25": Source(1, 10.0), "dense": Source(2, 0.8)}
    assert fused["b"].sources == {"bm25": Source(2, 8.0)}
    assert fused["c"].sources == {"bm25": Source(3, 5.0), "dense": Source(1, 0.9)}
    assert fused["d"].sources == {"dense": Source(3, 0.1)}


def test_duplicate_ids_keep_the_first_occurrence() -> None:
    hits = RetrieverHits("bm25", (("a", 3.0), ("b", 2.0), ("a", 1.0), ("c", 0.5)))
    assert hits.hits == (("a", 3.0), ("b", 2.0), ("c", 0.5))
    fused = fuse([hits], FusionConfig())
    # ranks follow the deduplicated list: c is rank 3, scoring 1/63
    assert fused[2].sources == {"bm25": Source(3, 0.5)}
    assert fused[2].score == pytest.approx(1 / 63)


# --- pagination --------------------------------------------------------------


def test_pages_concatenate_to_the_full_list() -> None:
    extra = RetrieverHits("sparse", (("e", 3.0), ("f", 2.0), ("g", 1.0)))
    fused = fuse([BM25, DENSE, extra], FusionConfig())
    assert len(fused) == 7
    pages = [paginate(fused, start, 3) for start in range(0, 9, 3)]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [hit for page in pages for hit in page] == fused
    assert paginate(fused, 7, 3) == []
    assert paginate(fused, 100, 3) == []
    assert paginate(fused, 2, 0) == []
    assert paginate(fused, 5, 10) == fused[5:]


@pytest.mark.parametrize(("start", "size"), [(-1, 10), (0, -1)])
def test_paginate_rejects_negative_bounds(start: int, size: int) -> None:
    with pytest.raises(ValueError, match="must be an integer >= 0"):
        paginate([], start, size)


# --- validation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": {"bm25": -1.0}}, "weight of retriever 'bm25' is -1.0"),
        ({"weights": {"bm25": math.nan}}, "weights must be finite"),
        ({"rank_constant": 0}, "rank_constant must be a finite number > 0"),
        ({"rank_constant": -5}, "rank_constant must be a finite number > 0"),
        ({"method": "borda"}, "unknown fusion method 'borda'"),
        ({"normalization": "max"}, "unknown normalization 'max'"),
        ({"window": 0}, "window must be an integer >= 1"),
        ({"window": 1.5}, "window must be an integer >= 1"),
    ],
)
def test_config_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FusionConfig(**kwargs)


def test_config_weights_are_frozen_copies() -> None:
    weights = {"bm25": 2.0}
    config = FusionConfig(weights=weights)
    weights["bm25"] = 5.0
    assert config.weight("bm25") == 2.0
    assert config.weight("dense") == 1.0
    with pytest.raises(TypeError):
        config.weights["bm25"] = 3.0  # type: ignore[index]


def test_hits_validation() -> None:
    with pytest.raises(ValueError, match="scores must be finite"):
        RetrieverHits("bm25", (("a", math.inf),))
    with pytest.raises(ValueError, match="non-empty name"):
        RetrieverHits("", ())


def test_fuse_validation() -> None:
    with pytest.raises(ValueError, match=r"repeated: \['bm25'\]"):
        fuse([BM25, BM25], FusionConfig())
    with pytest.raises(ValueError, match="are all 0"):
        fuse([BM25, DENSE], FusionConfig(method="linear", weights={"bm25": 0, "dense": 0}))

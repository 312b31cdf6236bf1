"""Score fusion for hybrid search: one ranked list from several retrievers' lists.

Each retriever (BM25, dense kNN, sparse) returns hits ``(doc_id, score)``, best
first. :func:`fuse` merges them by reciprocal rank (``rrf``) or by a weighted sum
of normalised scores (``linear``) and keeps, per document, each retriever's rank
and raw score as explain data. It is pure: no engine, no I/O.

Choices, so that results never depend on the engine or on luck:

* Only the first ``window`` hits of each retriever count; a hit past the window
  is treated as not returned.
* A document is kept whenever any retriever returned it within the window, even
  if only one did (OpenSearch's RRF has been reported to drop such documents).
* Order is fused score descending, then doc id ascending. Sums use
  ``math.fsum``, which is exact up to one rounding, so the same terms in any
  retriever order give the same score and real ties stay ties.
* ``linear`` weights are shares of the retrievers passed to :func:`fuse`,
  empty ones included, so one query's scores do not change scale because a
  retriever happened to find nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from .hits import FusedHit, Source
from .names import FUSION_METHODS, NORMALIZATIONS, Normalization
from .names import FusionMethod as Method


@dataclass(frozen=True)
class RetrieverHits:
    """One retriever's hits ``(doc_id, score)``, best first; position is rank.

    A document listed more than once keeps only its first (best-ranked)
    occurrence: an engine can return a document once per matching nested
    passage, and the first is the one its rank describes. Scores must be finite.
    """

    name: str
    hits: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a retriever needs a non-empty name: it keys weights and explain data")
        first: dict[str, float] = {}
        for doc_id, raw in self.hits:
            if not isinstance(doc_id, str):
                raise TypeError(f"retriever {self.name!r}: doc ids must be str, got {doc_id!r}")
            score = float(raw)
            if not math.isfinite(score):
                raise ValueError(
                    f"retriever {self.name!r}: document {doc_id!r} has score {score}; "
                    "scores must be finite numbers"
                )
            first.setdefault(doc_id, score)
        object.__setattr__(self, "hits", tuple(first.items()))


@dataclass(frozen=True)
class FusionConfig:
    """How :func:`fuse` merges lists; validated when built.

    ``rank_constant`` is RRF's k. ``weights`` maps retriever names to
    non-negative weights (1.0 for a name not listed; names of retrievers not in
    a request are ignored). RRF multiplies each ``1 / (k + rank)`` by the weight;
    ``linear`` uses the weights as shares, normalised to sum 1 over the
    retrievers passed to :func:`fuse`. ``normalization`` applies to ``linear``
    only; see :func:`normalize`. ``window`` is how many hits of each retriever
    count.
    """

    method: Method = "rrf"
    rank_constant: float = 60
    normalization: Normalization = "min_max"
    weights: Mapping[str, float] = field(default_factory=dict)
    window: int = 100

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}; use one of {FUSION_METHODS}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"unknown normalization {self.normalization!r}; use one of {NORMALIZATIONS}"
            )
        k = self.rank_constant
        if isinstance(k, bool) or not isinstance(k, int | float) or not math.isfinite(k) or k <= 0:
            raise ValueError(f"rank_constant must be a finite number > 0 (60 is usual), got {k!r}")
        w = self.window
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"window must be an integer >= 1 (hits per retriever), got {w!r}")
        for name, weight in self.weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(
                    f"weight of retriever {name!r} is {weight!r}; weights must be finite and >= 0"
                )
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    def weight(self, name: str) -> float:
        """The weight of retriever ``name``: the configured one, or 1.0."""
        return float(self.weights.get(name, 1.0))


def _normalized(
    scores: Sequence[float], method: Normalization
) -> tuple[npt.NDArray[np.float64], float]:
    """Normalised ``scores`` and the value a document the retriever did not return gets."""
    if method not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {method!r}; use one of {NORMALIZATIONS}")
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s, 0.0
    if not np.all(np.isfinite(s)):
        raise ValueError("scores to normalise must be finite numbers")
    # All three methods are scale-invariant. Dividing by the power of two just above
    # the largest magnitude is exact and keeps spreads and squares from overflowing
    # (1e308 - -1e308) or underflowing (variance of 1e-200s).
    s = np.ldexp(s, -math.frexp(float(np.max(np.abs(s))))[1])
    if method == "min_max":
        low, high = float(s.min()), float(s.max())
        if high == low:
            return np.ones_like(s), 0.0
        return (s - low) / (high - low), 0.0
    if method == "z_score":
        std = float(s.std())
        z = np.zeros_like(s) if std == 0.0 else (s - s.mean()) / std
        # Absent scores the retriever's worst z, so not being found never beats being found.
        return z, float(z.min())
    norm = math.sqrt(float(np.dot(s, s)))
    return (s / norm if norm > 0.0 else np.zeros_like(s)), 0.0


def normalize(scores: Sequence[float], method: Normalization) -> list[float]:
    """``scores`` mapped to a common scale so that different retrievers can be summed.

    ``min_max``: ``(s - min) / (max - min)``, or 1.0 for every score when all are
    equal (they are all equally the best). ``z_score``: ``(s - mean) / std`` with
    the population std, or 0.0 when it is 0. ``l2``: ``s / sqrt(sum s^2)``, or
    0.0 when that norm is 0. An empty list gives an empty list.
    """
    return [float(v) for v in _normalized(scores, method)[0]]


def fuse(results: Sequence[RetrieverHits], config: FusionConfig) -> list[FusedHit]:
    """One ranked list from several retrievers' ranked lists, best first.

    ``rrf``: a document scores ``sum(weight / (k + rank))`` over the retrievers
    that returned it. ``linear``: each retriever's window is normalised with
    :func:`normalize` and a document scores ``sum(share * value)``, where a
    retriever that did not return it gives 0 (``min_max``, ``l2``) or its lowest
    z (``z_score``). Empty retrievers add nothing; all empty gives ``[]``.
    Raises ``ValueError`` for repeated retriever names or all-zero weights.
    """
    names = [result.name for result in results]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"retriever names must be unique in one request; repeated: {repeated}")
    weights = [config.weight(name) for name in names]
    total = math.fsum(weights)
    if results and total == 0.0:
        raise ValueError(f"the weights of retrievers {names} are all 0; make at least one > 0")

    explain: dict[str, dict[str, Source]] = {}
    terms: list[tuple[dict[str, float], float]] = []  # per retriever: doc -> term, absent term
    for result, weight in zip(results, weights, strict=True):
        hits = result.hits[: config.window]
        for rank, (doc_id, score) in enumerate(hits, start=1):
            explain.setdefault(doc_id, {})[result.name] = Source(rank, score)
        if config.method == "rrf":
            values = [weight / (config.rank_constant + rank) for rank in range(1, len(hits) + 1)]
            absent = 0.0
        else:
            share = weight / total
            normed, absent_value = _normalized([score for _, score in hits], config.normalization)
            values = [share * float(v) for v in normed]
            absent = share * absent_value
        terms.append(({doc_id: v for (doc_id, _), v in zip(hits, values, strict=True)}, absent))

    fused = [
        FusedHit(
            doc_id,
            math.fsum(found.get(doc_id, absent) for found, absent in terms),
            MappingProxyType(sources),
        )
        for doc_id, sources in explain.items()
    ]
    fused.sort(key=lambda hit: (-hit.score, hit.id))
    return fused


def paginate(hits: Sequence[FusedHit], start: int, size: int) -> list[FusedHit]:
    """Hits ``start`` to ``start + size`` of a fused list (from/size); past the end gives ``[]``."""
    for label, value in (("start", start), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{label} must be an integer >= 0, got {value!r}")
    return list(hits[start : start + size])

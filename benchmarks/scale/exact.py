"""Exact top-k over the first ``n`` documents: the reference that recall is measured against.

Dense: the dot product of unit vectors (cosine), every document scored, in chunks.
Sparse: the dot product of query and document term weights, scored through an
inverted index (postings sorted by term) built once over all documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from .corpus import Floats, Ints

CHUNK = 200_000


def top_k(scores: Floats, k: int) -> list[int]:
    """The ``k`` best rows, best first (ties broken by the lower row)."""
    k = min(k, len(scores))
    if k == 0:
        return []
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    above = np.flatnonzero(scores > kth)
    best = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
    return [int(i) for i in best[np.lexsort((best, -scores[best]))]]


def dense_top_k(vectors: Floats, query: Floats, n: int, k: int) -> list[int]:
    scores = np.concatenate(
        [vectors[start : min(n, start + CHUNK)] @ query for start in range(0, n, CHUNK)]
    )
    return top_k(scores, k)


class SparseIndex:
    """Postings of every term: the documents holding it and their weights."""

    def __init__(self, doc_ids: npt.NDArray[np.int32], term_ids: Ints, weights: Floats) -> None:
        order = np.argsort(term_ids, kind="stable")
        self._docs = doc_ids[order]
        self._weights = weights[order]
        terms = term_ids[order]
        self._starts = np.searchsorted(terms, np.arange(int(terms.max()) + 2))
        self.size = int(doc_ids.max()) + 1 if len(doc_ids) else 0

    @classmethod
    def of(cls, rows: Sequence[tuple[Ints, Floats]]) -> SparseIndex:
        lengths = np.fromiter((len(ids) for ids, _ in rows), dtype=np.int64, count=len(rows))
        doc_ids = np.repeat(np.arange(len(rows), dtype=np.int32), lengths)
        return cls(
            doc_ids,
            np.concatenate([ids for ids, _ in rows]),
            np.concatenate([weights for _, weights in rows]),
        )

    def top_k(self, query: Mapping[int, float], n: int, k: int) -> list[int]:
        scores = np.zeros(self.size, dtype=np.float32)
        for term, weight in query.items():
            if term + 1 >= len(self._starts):
                continue
            start, end = self._starts[term], self._starts[term + 1]
            docs = self._docs[start:end]
            scores += np.bincount(
                docs, self._weights[start:end] * np.float32(weight), minlength=self.size
            ).astype(np.float32)
        return top_k(scores[:n], k)


def recall(found: Sequence[str], exact: Sequence[int]) -> float:
    """The share of the exact top-k that the engine's top-k holds."""
    return len({str(i) for i in exact} & set(found)) / len(exact) if exact else 1.0

"""Grow the real corpus to any size with documents derived from real ones.

Document ``i`` below the real count is real document ``i``. Above it, a derived
document has a *parent* and a *donor*, two real documents drawn uniformly with a
generator seeded by ``(seed, i)`` (so document ``i`` is the same in every run):

* **text**: the parent's words, each replaced with probability :data:`MIX` by a
  word drawn from the donor's; the title is the parent's with ``~i``;
* **dense**: ``normalise((1 - MIX)·parent + MIX·donor + noise)``, the noise
  Gaussian with norm about :data:`NOISE` (the real vectors have norm 1);
* **sparse**: the weighted sum ``(1 - MIX)·parent + MIX·donor`` over the union of
  their terms, each weight times ``exp(N(0, JITTER²))``; then :data:`RESAMPLE` of
  the terms are dropped and as many are drawn from the real SPLADE term
  distribution (terms by how many real documents hold them, weights from the
  real weights), so that derived documents do not only reuse their parents' terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .corpus import Encoded, Floats, Ints, Texts

MIX = 0.3
NOISE = 0.3
JITTER = 0.25
RESAMPLE = 0.2
# What is written (and scored exactly) is rounded: dense to 6 decimals, sparse weights
# to 4 and at least 1e-4 (rank_features takes positive weights only).
DENSE_DECIMALS = 6
SPARSE_DECIMALS = 4


@dataclass(frozen=True)
class Doc:
    """A document as written: ``dense`` and ``weights`` are float64 already rounded."""

    id: str
    title: str
    text: str
    dense: npt.NDArray[np.float64]
    term_ids: Ints
    weights: npt.NDArray[np.float64]


def _rounded(doc_id: str, title: str, text: str, dense: Floats, ids: Ints, weights: Floats) -> Doc:
    return Doc(
        doc_id,
        title,
        text,
        np.round(dense.astype(np.float64), DENSE_DECIMALS),
        ids,
        np.maximum(np.round(weights.astype(np.float64), SPARSE_DECIMALS), 10.0**-SPARSE_DECIMALS),
    )


class Grower:
    """Documents ``0..n`` of the scale corpus: real first, then derived."""

    def __init__(self, texts: Texts, encoded: Encoded, seed: int = 0) -> None:
        self.texts = texts
        self.encoded = encoded
        self.seed = seed
        self._words = [text.split() for text in texts.texts]
        counts = np.bincount(encoded.term_ids, minlength=len(encoded.vocabulary))
        self._terms = np.flatnonzero(counts).astype(np.int32)
        cumulative = np.cumsum(counts[self._terms], dtype=np.float64)
        self._term_cdf = cumulative / cumulative[-1]

    def doc(self, i: int) -> Doc:
        real = self.encoded.count
        if i < real:
            ids, weights = self.encoded.sparse(i)
            title, text = self.texts.titles[i], self.texts.texts[i]
            return _rounded(str(i), title, text, self.encoded.dense[i], ids, weights)
        rng = np.random.default_rng((self.seed, i))
        parent, donor = (int(x) for x in rng.integers(real, size=2))
        ids, weights = self._sparse(rng, parent, donor)
        return _rounded(
            str(i),
            f"{self.texts.titles[parent]} ~{i}",
            self._text(rng, parent, donor),
            self._dense(rng, parent, donor),
            ids,
            weights,
        )

    def _text(self, rng: np.random.Generator, parent: int, donor: int) -> str:
        words = list(self._words[parent])
        given = self._words[donor]
        swap = np.flatnonzero(rng.random(len(words)) < MIX)
        for position, pick in zip(swap, rng.integers(len(given), size=len(swap)), strict=True):
            words[position] = given[pick]
        return " ".join(words)

    def _dense(self, rng: np.random.Generator, parent: int, donor: int) -> Floats:
        vectors = self.encoded.dense
        dims = vectors.shape[1]
        noise = rng.standard_normal(dims, dtype=np.float32) * np.float32(NOISE / dims**0.5)
        mixed = (1 - MIX) * vectors[parent] + MIX * vectors[donor] + noise
        return np.asarray(mixed / np.linalg.norm(mixed), dtype=np.float32)

    def _sparse(self, rng: np.random.Generator, parent: int, donor: int) -> tuple[Ints, Floats]:
        p_ids, p_weights = self.encoded.sparse(parent)
        d_ids, d_weights = self.encoded.sparse(donor)
        ids, where = np.unique(np.concatenate([p_ids, d_ids]), return_inverse=True)
        summed = np.zeros(len(ids), dtype=np.float32)
        np.add.at(summed, where, np.concatenate([(1 - MIX) * p_weights, MIX * d_weights]))
        summed *= np.exp(rng.normal(0.0, JITTER, len(ids))).astype(np.float32)
        keep = rng.random(len(ids)) >= RESAMPLE
        added = int(len(ids) - keep.sum())
        drawn = np.searchsorted(self._term_cdf, rng.random(added), side="right")
        new_ids = self._terms[np.minimum(drawn, len(self._terms) - 1)]
        new_weights = rng.choice(self.encoded.weights, size=added)
        ids, where = np.unique(np.concatenate([ids[keep], new_ids]), return_index=True)
        weights = np.concatenate([summed[keep], new_weights])[where]
        return ids.astype(np.int32), weights.astype(np.float32)

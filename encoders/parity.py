"""How closely two encoder outputs agree: the numbers `tandem models export` prints.

Dense outputs are compared by cosine per text; sparse ones by the largest
absolute weight difference and the overlap of their top-k terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pooling import FloatArray

SAMPLE_TEXTS = (
    "what causes heart attacks",
    "How do I parse JSON in Python?",
    "Vitamin D deficiency is associated with an increased risk of respiratory infections "
    "in adults, according to a meta-analysis of randomised controlled trials.",
    "OpenSearch and Elasticsearch both store dense vectors in HNSW graphs; Tandem writes "
    "them next to learned sparse term weights and fuses the scores with BM25 at query time.",
)


@dataclass(frozen=True)
class DenseParity:
    min_cosine: float
    mean_cosine: float

    def __str__(self) -> str:
        return f"cosine min {self.min_cosine:.6f}, mean {self.mean_cosine:.6f}"


@dataclass(frozen=True)
class SparseParity:
    max_abs_error: float
    top_k_overlap: float
    k: int

    def __str__(self) -> str:
        return (
            f"max |error| {self.max_abs_error:.2e}, top-{self.k} overlap {self.top_k_overlap:.3f}"
        )


def dense_parity(candidate: FloatArray, reference: FloatArray) -> DenseParity:
    dots = (candidate * reference).sum(axis=1)
    norms = np.linalg.norm(candidate, axis=1) * np.linalg.norm(reference, axis=1)
    cosines = dots / np.clip(norms, 1e-12, None)
    return DenseParity(float(cosines.min()), float(cosines.mean()))


def top_k_overlap(candidate: FloatArray, reference: FloatArray, k: int) -> float:
    """Mean share of the reference's top-k terms (by weight, non-zero only) the candidate keeps."""
    shares = []
    for cand, ref in zip(candidate, reference, strict=True):
        ref_top = [int(i) for i in np.argsort(-ref)[:k] if ref[i] > 0]
        if not ref_top:
            continue
        cand_top = {int(i) for i in np.argsort(-cand)[: len(ref_top)] if cand[i] > 0}
        shares.append(len(cand_top.intersection(ref_top)) / len(ref_top))
    return float(np.mean(shares)) if shares else 1.0


def sparse_parity(candidate: FloatArray, reference: FloatArray, k: int = 20) -> SparseParity:
    error = float(np.abs(candidate - reference).max()) if candidate.size else 0.0
    return SparseParity(error, top_k_overlap(candidate, reference, k), k)

"""A small hand-made corpus with known answers for engine smoke tests.

Vectors come in two tight clusters (category "a" and "b") so that a filter
applied after kNN would return nothing, while a pre-filter returns k hits.
Sparse weights are multiples of 0.25, exact in the engines' reduced-precision
feature encodings, so dot products can be compared to the engine's scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIMS = 384
N_DOCS = 60
VOCAB = [f"term{i}" for i in range(30)]


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    category: str
    vector: list[float]
    terms: dict[str, float]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def make_corpus(seed: int = 7) -> list[Doc]:
    rng = np.random.default_rng(seed)
    centres = {"a": _unit(rng.normal(size=DIMS)), "b": _unit(rng.normal(size=DIMS))}
    docs = []
    for i in range(N_DOCS):
        category = "a" if i % 2 == 0 else "b"
        vector = _unit(centres[category] + 0.35 * _unit(rng.normal(size=DIMS)))
        chosen = rng.choice(len(VOCAB), size=5, replace=False)
        weights = rng.integers(1, 13, size=5) * 0.25
        terms = {VOCAB[j]: float(w) for j, w in zip(chosen, weights, strict=True)}
        text = f"shared words about retrieval number{i:03d} " + " ".join(
            "common" for _ in range(1 + i % 3)
        )
        docs.append(Doc(f"d{i:03d}", text, category, vector.astype(np.float32).tolist(), terms))
    return docs


def query_near(doc: Doc, seed: int = 11) -> list[float]:
    rng = np.random.default_rng(seed)
    v = np.asarray(doc.vector) + 0.05 * _unit(rng.normal(size=DIMS))
    return _unit(v).astype(np.float32).tolist()


def exact_cosine_top(docs: list[Doc], query: list[float], k: int) -> list[tuple[str, float]]:
    """Brute-force cosine ranking: the ground truth HNSW must agree with here."""
    matrix = np.asarray([d.vector for d in docs], dtype=np.float64)
    q = np.asarray(query, dtype=np.float64)
    sims = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
    order = np.argsort(-sims)[:k]
    return [(docs[i].id, float(sims[i])) for i in order]


def sparse_scores(docs: list[Doc], query: dict[str, float]) -> dict[str, float]:
    """Dot products of the query's and each document's term weights (non-zero only)."""
    scores = {}
    for doc in docs:
        score = sum(w * doc.terms.get(t, 0.0) for t, w in query.items())
        if score > 0:
            scores[doc.id] = score
    return scores

"""Sparse encoders: SPLADE on documents and queries, and the inference-free query side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .pooling import FloatArray, splade_max
from .registry import ModelSpec
from .session import OnnxModel
from .splade_head import SpladeHead
from .stages import stage
from .text import Batching, TextBatcher


@dataclass(frozen=True)
class SparseVector:
    """Vocabulary ids, weights and token strings, heaviest first."""

    ids: npt.NDArray[np.int64]
    weights: FloatArray
    tokens: tuple[str, ...]

    def as_dict(self) -> dict[str, float]:
        return {t: float(w) for t, w in zip(self.tokens, self.weights, strict=True)}

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class Pruning:
    """Keep terms above ``threshold``, then at most ``top_k`` of them."""

    threshold: float = 0.0
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {self.threshold}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be positive, got {self.top_k}")


def to_sparse(row: FloatArray, vocabulary: Sequence[str], pruning: Pruning) -> SparseVector:
    """Turn a dense ``[vocab]`` weight row into a pruned, sorted sparse vector."""
    ids = np.flatnonzero(row > pruning.threshold)
    weights = row[ids]
    if pruning.top_k is not None and len(ids) > pruning.top_k:
        # argpartition finds the top k in linear time; only those are sorted.
        keep = np.argpartition(-weights, pruning.top_k - 1)[: pruning.top_k]
        ids, weights = ids[keep], weights[keep]
    order = np.lexsort((ids, -weights))
    ids, weights = ids[order].astype(np.int64), weights[order].astype(np.float32)
    return SparseVector(ids, weights, tuple(vocabulary[int(i)] for i in ids))


class SpladeEncoder:
    """SPLADE: ``max over tokens of log(1 + relu(logits))`` from an MLM head.

    With a :class:`SpladeHead`, ``model`` outputs the MLM transform and the
    vocabulary projection runs per document, reduced as it is computed (fast,
    bounded memory); without one, ``model`` outputs full logits (any exported
    SPLADE ONNX file).
    """

    def __init__(
        self,
        spec: ModelSpec,
        model: OnnxModel,
        batcher: TextBatcher,
        vocabulary: Sequence[str],
        head: SpladeHead | None = None,
        batching: Batching = Batching(),
    ) -> None:
        self.spec = spec
        self.model = model
        self.batcher = batcher
        self.vocabulary = vocabulary
        self.head = head
        self.batching = batching

    def weights(self, texts: Sequence[str], sort: bool = True) -> FloatArray:
        """Dense ``[n, vocab]`` SPLADE weights in input order."""
        out = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for batch in self.batcher.batches(
            texts, self.batching.rows, sort, self.batching.max_tokens
        ):
            with stage("sparse encode"):
                output = self.model.run(batch.arrays)
                if self.head is not None:
                    out[list(batch.indices)] = self.head.weights(output, batch.attention_mask)
                else:
                    out[list(batch.indices)] = splade_max(output, batch.attention_mask)
        return out

    def encode(self, texts: Sequence[str], pruning: Pruning = Pruning()) -> list[SparseVector]:
        weights = self.weights(texts)
        with stage("sparse encode"):
            return [to_sparse(row, self.vocabulary, pruning) for row in weights]


def vocabulary_of(batcher: TextBatcher) -> list[str]:
    """Token strings indexed by id."""
    vocab = batcher.tokenizer.get_vocab(with_added_tokens=True)
    tokens = [""] * (max(vocab.values()) + 1)
    for token, index in vocab.items():
        tokens[index] = token
    return tokens

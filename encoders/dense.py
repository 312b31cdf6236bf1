"""Dense bi-encoder: pooled, L2-normalised sentence vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .pooling import FloatArray, cls_pool, l2_normalize, mean_pool
from .registry import InputKind, ModelSpec, Pooling
from .session import OnnxModel
from .stages import stage
from .text import Batching, TextBatcher


class DenseEncoder:
    """Encodes texts into ``[n, dim]`` float32 vectors, in input order."""

    def __init__(
        self,
        spec: ModelSpec,
        model: OnnxModel,
        batcher: TextBatcher,
        batching: Batching = Batching(),
    ) -> None:
        self.spec = spec
        self.model = model
        self.batcher = batcher
        self.batching = batching
        self._pool = mean_pool if spec.pooling is Pooling.MEAN else cls_pool

    def encode(
        self,
        texts: Sequence[str],
        kind: InputKind = InputKind.DOCUMENT,
        normalize: bool | None = None,
        sort: bool = True,
    ) -> FloatArray:
        prefix = self.spec.prefix(kind)
        inputs = [prefix + t for t in texts] if prefix else list(texts)
        out: FloatArray | None = None
        for batch in self.batcher.batches(
            inputs, self.batching.rows, sort, self.batching.max_tokens
        ):
            with stage("dense encode"):
                hidden = self.model.run(batch.arrays)
                pooled = self._pool(hidden, batch.attention_mask)
            if out is None:
                out = np.empty((len(inputs), pooled.shape[1]), dtype=np.float32)
            out[list(batch.indices)] = pooled
        if out is None:
            return np.empty((0, 0), dtype=np.float32)
        should_normalize = self.spec.normalize if normalize is None else normalize
        with stage("dense encode"):
            return l2_normalize(out) if should_normalize else out

"""Pure numpy post-processing shared by the encoders.

Everything here works on padded batches: ``hidden`` is
``[batch, tokens, dim]`` and ``mask`` is ``[batch, tokens]`` with 1 for real
tokens, so padding never leaks into a result.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def mean_pool(hidden: FloatArray, mask: IntArray) -> FloatArray:
    """Average of the token vectors under the mask (sentence-transformers' mean pooling)."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled: FloatArray = (summed / counts).astype(np.float32)
    return pooled


def cls_pool(hidden: FloatArray, mask: IntArray) -> FloatArray:
    """The first token's vector ([CLS])."""
    del mask
    return np.ascontiguousarray(hidden[:, 0, :], dtype=np.float32)


def l2_normalize(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalized: FloatArray = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return normalized


def splade_max(logits: FloatArray, mask: IntArray) -> FloatArray:
    """SPLADE weights: ``max over masked tokens of log(1 + relu(logit))``.

    ``log1p(relu(x))`` is monotonic, so the max is taken over raw logits first
    and the transform applied to ``[batch, vocab]`` instead of the whole
    ``[batch, tokens, vocab]`` tensor: same result, far less work.
    """
    masked = np.where(mask[:, :, None].astype(bool), logits, -np.inf)
    peak = masked.max(axis=1)
    weights: FloatArray = np.log1p(np.maximum(peak, 0.0)).astype(np.float32)
    return weights

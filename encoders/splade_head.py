"""SPLADE's vocabulary projection, computed in token chunks with a running max.

A SPLADE model's cost is its MLM head: ``tokens x hidden x vocab`` multiply-adds
whose ``[batch, tokens, vocab]`` output (500 MB for 32 x 128 tokens of a 30k
vocabulary) is written once and read once just to take a max over tokens. Here
the projection runs on the real (unpadded) tokens only, a chunk at a time, and
each chunk is reduced to per-document maxima at once, so the full logits tensor
never exists. The bias is the same for every token, so it is added after the
max, and ``log1p(relu(.))`` is applied to ``[batch, vocab]`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tandem.encoders.pooling import FloatArray, IntArray

DEFAULT_CHUNK_TOKENS = 128


@dataclass(frozen=True)
class SpladeHead:
    """The decoder ``[hidden, vocab]`` (contiguous, for a fast GEMM) and bias ``[vocab]``."""

    decoder: FloatArray
    bias: FloatArray
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS

    def __post_init__(self) -> None:
        if self.decoder.ndim != 2 or self.bias.shape != (self.decoder.shape[1],):
            raise ValueError(
                f"decoder must be [hidden, vocab] and bias [vocab], got {self.decoder.shape} "
                f"and {self.bias.shape}"
            )
        if self.chunk_tokens < 1:
            raise ValueError(f"chunk_tokens must be positive, got {self.chunk_tokens}")

    @property
    def vocab_size(self) -> int:
        return int(self.decoder.shape[1])

    @classmethod
    def from_embeddings(
        cls,
        decoder: npt.NDArray[np.floating],
        bias: npt.NDArray[np.floating],
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    ) -> SpladeHead:
        """From the checkpoint's ``[vocab, hidden]`` decoder (tied word embeddings)."""
        return cls(
            np.ascontiguousarray(decoder.T, dtype=np.float32),
            np.asarray(bias, dtype=np.float32),
            chunk_tokens,
        )

    def weights(self, transformed: FloatArray, mask: IntArray) -> FloatArray:
        """SPLADE weights ``[batch, vocab]`` from the transform ``[batch, tokens, hidden]``."""
        lengths = mask.sum(axis=1).astype(np.int64)
        # Right padding: each row's real tokens come first, so boolean indexing keeps
        # documents contiguous and in order.
        rows = transformed[mask.astype(bool)]
        peaks = np.full((len(lengths), self.vocab_size), -np.inf, dtype=np.float32)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for first, last in _chunks(lengths, self.chunk_tokens):
            lo, hi = int(starts[first]), int(starts[last - 1] + lengths[last - 1])
            if lo == hi:
                continue
            logits = rows[lo:hi] @ self.decoder
            offsets = starts[first:last] - lo
            nonempty = lengths[first:last] > 0
            reduced = np.maximum.reduceat(logits, offsets[nonempty], axis=0)
            docs = np.arange(first, last)[nonempty]
            peaks[docs] = np.maximum(peaks[docs], reduced)
        out: FloatArray = np.log1p(np.maximum(peaks + self.bias, 0.0)).astype(np.float32)
        return out


def _chunks(lengths: npt.NDArray[np.int64], budget: int) -> list[tuple[int, int]]:
    """Group consecutive documents into runs of at most ``budget`` tokens (a longer
    document forms a run of its own)."""
    runs: list[tuple[int, int]] = []
    first, used = 0, 0
    for i, n in enumerate(lengths.tolist()):
        if i > first and used + n > budget:
            runs.append((first, i))
            first, used = i, 0
        used += n
    if len(lengths):
        runs.append((first, len(lengths)))
    return runs

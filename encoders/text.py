"""Tokenisation into padded, length-sorted batches.

Texts are tokenised with Hugging Face ``tokenizers``, truncated to the model's
limit, sorted by length so that each batch pads only to its own longest text,
and the encoders put results back in input order using ``Batch.indices``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

from .stages import stage

IntArray = npt.NDArray[np.int64]
# Padded tokens per batch (rows x longest row): see TextBatcher.batches.
DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class Batch:
    """One padded batch and the input positions of its rows."""

    indices: tuple[int, ...]
    input_ids: IntArray
    attention_mask: IntArray
    token_type_ids: IntArray

    @property
    def arrays(self) -> dict[str, IntArray]:
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }

    @property
    def tokens(self) -> int:
        """Real (unpadded) tokens in the batch."""
        return int(self.attention_mask.sum())


@dataclass(frozen=True)
class Batching:
    """How encoders cut work into batches: at most ``rows`` texts and ``max_tokens``
    padded tokens (``None``: no token budget). See :meth:`TextBatcher.batches`."""

    rows: int = 32
    max_tokens: int | None = DEFAULT_MAX_TOKENS

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError(f"rows must be positive, got {self.rows}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {self.max_tokens}")


def validate_texts(texts: Sequence[str]) -> None:
    """Refuse what no encoder can give a meaningful answer for."""
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not a single string")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not str")
        if not text.strip():
            raise ValueError(f"text {i} is empty: there is nothing to encode")


class TextBatcher:
    """A tokenizer configured for one model: truncation on, padding done per batch."""

    def __init__(self, tokenizer_file: Path, max_length: int) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2, got {max_length}")
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # Some tokenizer.json files (MiniLM's) pin padding and truncation to 128;
        # padding happens per batch here, truncation at the model's own limit.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        validate_texts(texts)
        return self.tokenizer.encode_batch(list(texts))

    def batches(
        self,
        texts: Sequence[str],
        batch_size: int,
        sort: bool = True,
        max_tokens: int | None = None,
    ) -> Iterator[Batch]:
        """Yield padded batches; with ``sort``, longest texts first to limit padding.

        ``max_tokens`` caps a batch's padded size (rows x longest row) as well as
        its row count: long texts then travel in small batches and short ones in
        large batches. Attention memory grows with the square of the length, so
        a token budget keeps peak memory flat and (measured on two cores) is no
        slower than a fixed 32 rows. A single text longer than the budget still
        forms a batch of its own.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        with stage("tokenize"):
            encodings = self.encode(texts)
        order = list(range(len(encodings)))
        if sort:
            order.sort(key=lambda i: len(encodings[i].ids), reverse=True)
        chosen: list[int] = []
        width = 0
        for i in order:
            longest = max(width, len(encodings[i].ids))
            over_budget = max_tokens is not None and longest * (len(chosen) + 1) > max_tokens
            if chosen and (len(chosen) == batch_size or over_budget):
                yield _padded(encodings, chosen)
                chosen, longest = [], len(encodings[i].ids)
            chosen.append(i)
            width = longest
        if chosen:
            yield _padded(encodings, chosen)


def _padded(encodings: Sequence[Encoding], chosen: list[int]) -> Batch:
    with stage("tokenize"):  # padding is the tokenizer's last step
        return pad([encodings[j] for j in chosen], tuple(chosen))


def pad(encodings: Sequence[Encoding], indices: tuple[int, ...]) -> Batch:
    """Pad ``encodings`` to the longest of them."""
    width = max(len(e.ids) for e in encodings)
    shape = (len(encodings), width)
    ids = np.zeros(shape, dtype=np.int64)
    mask = np.zeros(shape, dtype=np.int64)
    types = np.zeros(shape, dtype=np.int64)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        ids[row, :n] = enc.ids
        mask[row, :n] = enc.attention_mask
        types[row, :n] = enc.type_ids
    return Batch(indices, ids, mask, types)

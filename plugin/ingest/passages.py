"""Long documents at ingest: split for each model, encoded per passage, pooled per document.

Each model reads its own window (MiniLM 254 content tokens here, splade-tiny 510),
so each gets its own :class:`~tandem.encoders.passages.Splitter`. Dense vectors of a
passage index are stored one per passage (``[{"vector": [...]}, ...]`` in a nested
field); sparse weights are pooled over passages with ``max``, SPLADE's own pooling
extended across windows, so the sparse field stays one per document. Without
passages, texts are still measured, so the report says what truncation dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from tandem.encoders.passages import Lengths, PassageWindow, Split, Splitter
from tandem.encoders.registry import ModelSpec
from tandem.encoders.sparse import Pruning, SparseVector
from tandem.encoders.text import TextBatcher
from tandem.plugin.index.spec import Passages

T = TypeVar("T")


class TextModel(Protocol):
    """An encoder as splitting sees it: its spec (window) and its tokenizer."""

    spec: ModelSpec
    batcher: TextBatcher


@dataclass(frozen=True)
class Splitters:
    """The dense and sparse models' splitters (``None`` for a model not in use)."""

    dense: Splitter | None = None
    sparse: Splitter | None = None

    @classmethod
    def for_index(
        cls, dense: TextModel | None, sparse: TextModel | None, passages: Passages | None
    ) -> Splitters:
        """Splitters for an index: splitting with its window and stride when it holds
        passages (the sparse model's texts too when ``passages.sparse``), measuring only,
        against the model's own window, when it does not. Raises ``ValueError`` for a
        window longer than a splitting model reads (see :func:`check_windows`)."""

        def one(model: TextModel | None, splits: bool) -> Splitter | None:
            if model is None:
                return None
            return Splitter(model.batcher.tokenizer, _window(model, passages, splits), splits)

        split_sparse = passages is not None and passages.sparse
        return cls(one(dense, passages is not None), one(sparse, split_sparse))


def check_windows(
    dense: TextModel | None, sparse: TextModel | None, passages: Passages | None
) -> None:
    """Raise ``ValueError`` when ``passages`` asks a model that splits for a window longer
    than it reads; what :meth:`Splitters.for_index` checks, without building splitters."""
    if passages is None:
        return
    for model, splits in ((dense, True), (sparse, passages.sparse)):
        if model is not None:
            _window(model, passages, splits)


def _window(model: TextModel, passages: Passages | None, splits: bool) -> PassageWindow:
    """The window ``model`` splits by (``passages``' window and stride), or, when it only
    measures, its own whole window."""
    if not splits or passages is None:
        return PassageWindow.for_model(model.spec.max_length)
    return PassageWindow.for_model(model.spec.max_length, passages.window, passages.stride)


def flatten(splits: Sequence[Split]) -> tuple[list[str], list[int]]:
    """Every passage in order, and how many each text has."""
    texts = [p for s in splits for p in s.passages]
    return texts, [len(s.passages) for s in splits]


def regroup(items: Sequence[T], counts: Sequence[int]) -> list[list[T]]:
    """``items`` cut back into one list per text, by ``counts``."""
    out: list[list[T]] = []
    start = 0
    for count in counts:
        out.append(list(items[start : start + count]))
        start += count
    return out


def max_pool(vectors: Sequence[SparseVector], pruning: Pruning) -> dict[str, float]:
    """One document's term weights: each term's largest weight over its passages, then
    at most ``pruning.top_k`` terms (each passage was pruned on its own)."""
    pooled: dict[str, float] = {}
    for vector in vectors:
        for token, weight in zip(vector.tokens, vector.weights, strict=True):
            value = float(weight)
            if value > pooled.get(token, 0.0):
                pooled[token] = value
    if pruning.top_k is not None and len(pooled) > pruning.top_k:
        tokens = list(pooled)
        weights = np.array([pooled[t] for t in tokens])
        keep = np.argsort(-weights, kind="stable")[: pruning.top_k]
        pooled = {tokens[int(i)]: pooled[tokens[int(i)]] for i in keep}
    return pooled


def measure(splitter: Splitter | None, texts: Sequence[str], lengths: Lengths) -> list[Split]:
    """``texts`` split (or kept whole) by ``splitter``, counted into ``lengths``."""
    if splitter is None:
        return [Split((t,), 0, 0) for t in texts]
    splits = splitter.split(texts)
    for split in splits:
        lengths.add(split)
    return splits


def length_lines(lengths: Mapping[str, Lengths]) -> list[str]:
    """One line per model: texts longer than its window, the tokens past it, and whether
    they were split into passages (more passages than texts) or truncated."""
    lines = []
    for model, seen in lengths.items():
        if not seen.texts:
            continue
        if not seen.long:
            lines.append(f"{model}: every text fits the model's window")
            continue
        head = (
            f"{model}: {seen.long:,} of {seen.texts:,} texts are longer than the model's "
            f"window, {seen.tokens_past_window:,} tokens past it"
        )
        if seen.passages > seen.texts:
            lines.append(f"{head}; split into {seen.passages:,} passages")
        else:
            hint = "--passages" if model == "dense" else "--passages --sparse-passages"
            lines.append(f"{head}; truncated ({hint} keeps them)")
    return lines

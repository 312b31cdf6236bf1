"""The sidecar's encoders behind their batchers: validate, tokenize, batch, post-process.

:class:`DenseModel` and :class:`SparseModel` are what the servicers call.
They check texts against the request limits, count tokens (refusing texts
that would be cut when ``truncate`` is off), hand the texts to the model's
:class:`DynamicBatcher` and apply per-request post-processing (normalisation,
top-k) to the shared batch's results.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.idf import IdfQueryEncoder
from tandem.encoders.pooling import FloatArray, l2_normalize
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import SparseVector, SpladeEncoder
from tandem.encoders.text import TextBatcher

from .batcher import (
    BatcherOptions,
    BatchObserver,
    DynamicBatcher,
    Timing,
)
from .errors import InvalidRequest, TooLarge


@dataclass(frozen=True)
class Limits:
    max_texts: int = 256
    max_text_bytes: int = 32768


@dataclass(frozen=True)
class Usage:
    """A request's share of the work: tokens, worst queue wait, longest model run."""

    tokens: int = 0
    queue_ms: float = 0.0
    inference_ms: float = 0.0

    @classmethod
    def of(cls, timings: Sequence[Timing]) -> Usage:
        if not timings:
            return cls()
        return cls(
            sum(t.tokens for t in timings),
            max(t.queue_ms for t in timings),
            max(t.inference_ms for t in timings),
        )


def check_texts(texts: Sequence[str], limits: Limits) -> None:
    """Refuse an empty list, too many texts, an empty text or an oversized one."""
    if not texts:
        raise InvalidRequest("texts is empty: send at least one text")
    if len(texts) > limits.max_texts:
        raise InvalidRequest(
            f"texts has {len(texts)} entries; the limit is {limits.max_texts} per request "
            "(split the request, or use the streaming RPC)"
        )
    for i, text in enumerate(texts):
        if not text.strip():
            raise InvalidRequest(f"texts[{i}] is empty: there is nothing to encode")
        size = len(text.encode("utf-8"))
        if size > limits.max_text_bytes:
            raise TooLarge(
                f"texts[{i}] is {size:,} bytes; the limit is {limits.max_text_bytes:,} bytes"
            )


def count_tokens(
    batcher: TextBatcher, texts: Sequence[str], truncate: bool, model: str
) -> list[int]:
    """Tokens per text after truncation; with ``truncate`` off, a text that
    would be cut is refused instead."""
    encodings = batcher.tokenizer.encode_batch(list(texts))
    if not truncate:
        for i, encoding in enumerate(encodings):
            if encoding.overflowing:
                raise InvalidRequest(
                    f"texts[{i}] is longer than {model}'s {batcher.max_length} tokens and "
                    "truncate is false: shorten it, or allow truncation"
                )
    return [len(e.ids) for e in encodings]


class DenseModel:
    """A dense encoder served through a dynamic batcher."""

    def __init__(
        self,
        encoder: DenseEncoder,
        options: BatcherOptions,
        limits: Limits,
        observer: BatchObserver | None = None,
        int8: bool = False,
    ) -> None:
        self.encoder = encoder
        self.int8 = int8
        self.limits = limits
        self.name = encoder.spec.name
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"tandem-{self.name}")
        self.batcher = DynamicBatcher[FloatArray](
            self.name, self._run, self.executor, options, observer
        )
        self.dimensions = len(self._run(InputKind.DOCUMENT, ["warm up"])[0])

    def _run(self, key: Hashable, texts: list[str]) -> list[FloatArray]:
        kind = key if isinstance(key, InputKind) else InputKind.DOCUMENT
        return list(self.encoder.encode(texts, kind, normalize=False))

    async def encode(
        self,
        texts: Sequence[str],
        kind: InputKind = InputKind.DOCUMENT,
        truncate: bool = True,
        normalize: bool | None = None,
    ) -> tuple[FloatArray, Usage]:
        check_texts(texts, self.limits)
        prefix = self.encoder.spec.prefix(kind)
        prefixed = [prefix + t for t in texts] if prefix else list(texts)
        tokens = count_tokens(self.encoder.batcher, prefixed, truncate, self.name)
        results = await self.batcher.submit(texts, tokens, kind)
        vectors = np.stack([vector for vector, _ in results]).astype(np.float32)
        should = self.encoder.spec.normalize if normalize is None else normalize
        if should:
            vectors = l2_normalize(vectors)
        return vectors, Usage.of([timing for _, timing in results])


class SparseModel:
    """SPLADE documents (and queries) through a batcher; inference-free queries when an
    IDF table is configured."""

    def __init__(
        self,
        encoder: SpladeEncoder,
        options: BatcherOptions,
        limits: Limits,
        observer: BatchObserver | None = None,
        idf: IdfQueryEncoder | None = None,
        int8: bool = False,
    ) -> None:
        self.encoder = encoder
        self.int8 = int8
        self.idf = idf
        self.limits = limits
        self.name = encoder.spec.name
        self.vocabulary_size = len(encoder.vocabulary)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"tandem-{self.name}")
        self.batcher = DynamicBatcher[SparseVector](
            self.name, self._run, self.executor, options, observer
        )
        self._run(None, ["warm up"])

    def _run(self, _key: Hashable, texts: list[str]) -> list[SparseVector]:
        return self.encoder.encode(texts)

    @property
    def query_encoder(self) -> str:
        return "idf" if self.idf is not None else "splade"

    async def encode(
        self,
        texts: Sequence[str],
        kind: InputKind = InputKind.DOCUMENT,
        truncate: bool = True,
        normalize: bool = False,
        top_k: int = 0,
    ) -> tuple[list[SparseVector], Usage]:
        check_texts(texts, self.limits)
        tokens = count_tokens(self.encoder.batcher, texts, truncate, self.name)
        if kind is InputKind.QUERY and self.idf is not None:
            vectors = self.idf.encode(texts)  # a tokenizer lookup: no batch, no model run
            usage = Usage(tokens=sum(tokens))
        else:
            results = await self.batcher.submit(texts, tokens)
            vectors = [vector for vector, _ in results]
            usage = Usage.of([timing for _, timing in results])
        return [_post(v, normalize, top_k) for v in vectors], usage


def _post(vector: SparseVector, normalize: bool, top_k: int) -> SparseVector:
    if top_k and len(vector) > top_k:  # heaviest first: the top k are a prefix
        vector = SparseVector(vector.ids[:top_k], vector.weights[:top_k], vector.tokens[:top_k])
    if normalize and len(vector):
        norm = float(np.linalg.norm(vector.weights))
        if norm > 0:
            vector = SparseVector(vector.ids, vector.weights / norm, vector.tokens)
    return vector

"""Inference-free sparse queries: tokenizer plus an IDF table, no model run.

Doc-only sparse models (OpenSearch's inference-free SPLADE family) encode
documents with a network but queries with just the tokenizer, weighting each
query token by its IDF. The table is computed from a corpus or loaded from
the JSON that such models ship (``{token: idf}``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Encoding

from .sparse import SparseVector
from .stages import stage
from .text import TextBatcher, validate_texts

_CHUNK = 256  # documents per tokenizer call


@dataclass(frozen=True)
class IdfTable:
    """IDF per token string; unknown tokens get ``default``."""

    idf: dict[str, float]
    default: float = 0.0

    @classmethod
    def from_json(cls, path: Path) -> IdfTable:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not all(
            isinstance(v, (int, float)) for v in data.values()
        ):
            raise ValueError(f"{path} must hold a JSON object of token -> idf numbers")
        return cls({str(k): float(v) for k, v in data.items()})

    @classmethod
    def from_corpus(
        cls,
        batcher: TextBatcher,
        documents: Iterable[str],
        progress: Callable[[int], None] | None = None,
    ) -> IdfTable:
        """BM25's IDF, ``ln(1 + (N - df + 0.5) / (df + 0.5))``, over the tokenizer's tokens.

        Each document counts the tokens the encoder would see (truncated at the
        model's limit); ``progress`` hears the documents counted so far, per chunk.
        """
        special_strings = special_tokens(batcher)
        df: dict[str, int] = {}
        n = 0
        chunk: list[str] = []
        for doc in documents:
            chunk.append(doc)
            if len(chunk) == _CHUNK:
                n += _count(batcher, chunk, df, special_strings)
                chunk = []
                if progress is not None:
                    progress(n)
        if chunk:
            n += _count(batcher, chunk, df, special_strings)
            if progress is not None:
                progress(n)
        if n == 0:
            raise ValueError("cannot compute IDF from an empty corpus")
        return cls({t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()})

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.idf, sort_keys=True))


def special_tokens(batcher: TextBatcher) -> set[str]:
    """[CLS], [SEP], [PAD] and friends: never query terms."""
    return {t.content for t in batcher.tokenizer.get_added_tokens_decoder().values() if t.special}


def _count(batcher: TextBatcher, docs: list[str], df: dict[str, int], special: set[str]) -> int:
    for encoding in batcher.tokenizer.encode_batch(docs):
        for token in set(encoding.tokens) - special:
            df[token] = df.get(token, 0) + 1
    return len(docs)


class IdfQueryEncoder:
    """Query → ``{token: idf}`` using only the tokenizer."""

    def __init__(self, batcher: TextBatcher, table: IdfTable) -> None:
        self.batcher = batcher
        self.table = table
        self._special = special_tokens(batcher)

    def encode(self, texts: Sequence[str]) -> list[SparseVector]:
        validate_texts(texts)
        with stage("tokenize"):
            encodings = self.batcher.tokenizer.encode_batch(list(texts))
        with stage("sparse encode"):  # the IDF lookups stand in for a model
            return self._vectors(encodings)

    def _vectors(self, encodings: Sequence[Encoding]) -> list[SparseVector]:
        vectors = []
        for encoding in encodings:
            seen: dict[str, int] = {}
            for token, token_id in zip(encoding.tokens, encoding.ids, strict=True):
                if token not in self._special:
                    seen.setdefault(token, token_id)
            items = [(t, i, self.table.idf.get(t, self.table.default)) for t, i in seen.items()]
            items = [item for item in items if item[2] > 0]
            items.sort(key=lambda item: (-item[2], item[1]))
            vectors.append(
                SparseVector(
                    np.asarray([i for _, i, _ in items], dtype=np.int64),
                    np.asarray([w for _, _, w in items], dtype=np.float32),
                    tuple(t for t, _, _ in items),
                )
            )
        return vectors

"""The real part of the scale corpus: Python docstrings and comments, encoded for real.

Texts come from :func:`tandem.plugin.demo.corpus.python_documents` (the demo's
corpus builder, widened to the installed packages and to comment blocks). Modules
are read in a stable shuffled order until ``real + queries`` texts are found; the
first ``real`` are documents and the last ``queries`` are held out as queries
(their first sentence, at most :data:`QUERY_WORDS` words).

Documents are encoded with MiniLM (dense) and splade-tiny (sparse), batch 32, and
cached under ``~/.cache/tandem/scale`` keyed by the texts and the models, so a
second run starts at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tandem.encoders.cache import cache_dir
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.sparse import SpladeEncoder
from tandem.plugin.demo.corpus import python_documents

QUERY_WORDS = 24
BATCH = 32
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int32]


@dataclass(frozen=True)
class Texts:
    """Titles and texts of the documents, and the held-out query texts."""

    titles: list[str]
    texts: list[str]
    queries: list[str]

    def passages(self) -> list[str]:
        """What the encoders read of each document: title, then text."""
        return [f"{t} {x}" for t, x in zip(self.titles, self.texts, strict=True)]


@dataclass(frozen=True)
class Encoded:
    """The real documents' vectors: dense rows, and sparse vectors as CSR arrays over the
    splade vocabulary (``offsets[i]:offsets[i+1]`` are document ``i``'s entries)."""

    dense: Floats
    offsets: npt.NDArray[np.int64]
    term_ids: Ints
    weights: Floats
    vocabulary: list[str]

    def sparse(self, row: int) -> tuple[Ints, Floats]:
        start, end = self.offsets[row], self.offsets[row + 1]
        return self.term_ids[start:end], self.weights[start:end]

    @property
    def count(self) -> int:
        return int(self.dense.shape[0])


def scale_cache() -> Path:
    folder = cache_dir() / "scale"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _environment_key() -> str:
    """What the corpus depends on: the Python version and every installed distribution."""
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    return hashlib.sha256("\n".join([sys.version, *dists]).encode()).hexdigest()[:12]


def query_text(text: str) -> str:
    """The first sentence of ``text``, at most :data:`QUERY_WORDS` words."""
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    return " ".join(first.split()[:QUERY_WORDS])


def load_texts(real: int, queries: int, log: Callable[[str], None]) -> Texts:
    """``real`` document texts and ``queries`` held-out query texts (cached per environment)."""
    wanted = real + queries
    path = scale_cache() / f"texts-{wanted}-{_environment_key()}.jsonl"
    if not path.exists():
        log(f"reading {wanted:,} docstrings and comments of the installed packages (once)")
        with path.open("w", encoding="utf-8") as out:
            for doc in python_documents(wanted):
                out.write(json.dumps([doc.text["title"], doc.text["text"]]) + "\n")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if wanted > len(rows):
        raise SystemExit(
            f"the installed packages give {len(rows):,} texts, fewer than --real {real:,} "
            f"plus --queries {queries:,}; lower one of them"
        )
    held_out = [query_text(text) for _, text in rows[len(rows) - queries :]]
    return Texts([t for t, _ in rows[:real]], [x for _, x in rows[:real]], held_out)


def encode_texts(
    texts: Texts,
    dense: DenseEncoder,
    splade: SpladeEncoder,
    model_names: Sequence[str],
    log: Callable[[str], None],
) -> Encoded:
    """The documents' vectors, from the cache or encoded now (with progress)."""
    digest = hashlib.sha256("\n".join([*model_names, *texts.texts]).encode()).hexdigest()[:12]
    path = scale_cache() / f"encoded-{len(texts.texts)}-{digest}.npz"
    if path.exists():
        with np.load(path) as saved:
            return Encoded(
                saved["dense"],
                saved["offsets"],
                saved["term_ids"],
                saved["weights"],
                [str(t) for t in saved["vocabulary"]],
            )
    passages = texts.passages()
    vectors: list[Floats] = []
    ids: list[Ints] = []
    weights: list[Floats] = []
    vocabulary: dict[int, str] = {}
    for start in range(0, len(passages), BATCH * 16):
        chunk = passages[start : start + BATCH * 16]
        vectors.append(np.asarray(dense.encode(chunk), dtype=np.float32))
        for sparse in splade.encode(chunk):
            ids.append(sparse.ids.astype(np.int32))
            weights.append(sparse.weights.astype(np.float32))
            vocabulary.update(zip(sparse.ids.tolist(), sparse.tokens, strict=True))
        log(f"encoded {start + len(chunk):,} of {len(passages):,} real documents")
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(i) for i in ids])
    size = max(vocabulary) + 1
    table = [vocabulary.get(i, "") for i in range(size)]
    encoded = Encoded(
        np.concatenate(vectors), offsets, np.concatenate(ids), np.concatenate(weights), table
    )
    np.savez(
        path,
        dense=encoded.dense,
        offsets=offsets,
        term_ids=encoded.term_ids,
        weights=encoded.weights,
        vocabulary=np.array(table),
    )
    return encoded

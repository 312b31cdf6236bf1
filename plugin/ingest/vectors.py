"""A batch of texts made into the vector fields an index stores, per its layout.

Ingest (:class:`~.pipeline.SourceBuilder`) and enrich both write what
:class:`VectorBuilder` makes: a dense vector (or one per passage, for a passage
index) and the sparse term weights (max-pooled over passages), with the term
names encoded as the engines store them. ``splitters`` measure each text against
each model's window and, for a passage index, split it (:mod:`.passages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tandem.encoders.passages import Lengths, Split, Splitter
from tandem.encoders.pooling import FloatArray
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import Pruning, SparseVector
from tandem.plugin.index.spec import (
    DEFAULT_DENSE_FIELD,
    DEFAULT_SPARSE_FIELD,
    PASSAGE_VECTOR,
    IndexSpec,
)
from tandem.plugin.index.terms import encode_term

from .passages import Splitters, flatten, max_pool, measure, regroup


@dataclass(frozen=True)
class FieldMap:
    """Where each part of a document goes in the index."""

    dense: str | None = DEFAULT_DENSE_FIELD
    sparse: str | None = DEFAULT_SPARSE_FIELD
    # The dense field is nested: one {"vector": [...]} object per passage.
    passages: bool = False

    @classmethod
    def of(cls, spec: IndexSpec) -> FieldMap:
        """Where ``spec`` keeps its vectors (``None`` for a field it lacks)."""
        return cls(
            spec.dense.name if spec.dense is not None else None,
            spec.sparse.name if spec.sparse is not None else None,
            spec.passages is not None,
        )


class DocumentDense(Protocol):
    """What ingest needs of a dense encoder (the encoder itself, or the sidecar's batcher)."""

    def encode(self, texts: Sequence[str], kind: InputKind = ...) -> FloatArray: ...


class DocumentSparse(Protocol):
    """What ingest needs of a sparse encoder (the encoder itself, or the sidecar's batcher)."""

    def encode(self, texts: Sequence[str], pruning: Pruning = ...) -> list[SparseVector]: ...


@dataclass(frozen=True)
class Chunk:
    """One encoder batch: the texts each model reads (passages, for a split text);
    ``None`` for a model that has nothing to do."""

    dense: list[str] | None
    sparse: list[str] | None


@dataclass(frozen=True)
class Encoded:
    """What the models made of a :class:`Chunk`, in its order."""

    dense: list[list[float]] | None
    sparse: list[SparseVector] | None


def encode_chunk(
    dense: DocumentDense | None, sparse: DocumentSparse | None, chunk: Chunk, pruning: Pruning
) -> Encoded:
    """Run ``chunk`` through the models (here, or in a worker of an encoder pool)."""
    return Encoded(
        dense.encode(chunk.dense, InputKind.DOCUMENT).tolist()
        if dense is not None and chunk.dense is not None
        else None,
        sparse.encode(chunk.sparse, pruning)
        if sparse is not None and chunk.sparse is not None
        else None,
    )


class ChunkEncoder(Protocol):
    """Encodes chunks, returned in their order. ``width`` is how many it works on at
    once: 1 here, one per worker for a pool (:mod:`tandem.plugin.distributed`)."""

    @property
    def width(self) -> int: ...

    def encode_chunks(self, chunks: Sequence[Chunk], pruning: Pruning) -> list[Encoded]: ...


class LocalEncoders:
    """The models in this process: one chunk after another."""

    width = 1

    def __init__(self, dense: DocumentDense | None, sparse: DocumentSparse | None) -> None:
        self.dense = dense
        self.sparse = sparse

    def encode_chunks(self, chunks: Sequence[Chunk], pruning: Pruning) -> list[Encoded]:
        return [encode_chunk(self.dense, self.sparse, c, pruning) for c in chunks]


class VectorBuilder:
    """Makes the vector fields of a batch of texts; ``lengths`` counts, per model, the
    texts longer than its window, the tokens past it and the passages encoded.

    Texts are split (and measured) here; ``pool``, when given, runs the models (an
    encoder pool on other processes or machines), else ``dense`` and ``sparse`` do."""

    def __init__(
        self,
        fields: FieldMap,
        dense: DocumentDense | None,
        sparse: DocumentSparse | None,
        pruning: Pruning = Pruning(),
        splitters: Splitters | None = None,
        pool: ChunkEncoder | None = None,
    ) -> None:
        if dense is None and sparse is None:
            raise ValueError("ingest needs a dense or a sparse encoder (or both)")
        self.fields = fields
        self.dense = dense
        self.sparse = sparse
        self.pruning = pruning
        self.splitters = splitters or Splitters()
        self.encoder: ChunkEncoder = pool or LocalEncoders(dense, sparse)
        self.lengths: dict[str, Lengths] = {}

    @property
    def width(self) -> int:
        """How many chunks are best handed to :meth:`fields_for_chunks` at once."""
        return self.encoder.width

    def _splits(self, model: str, splitter: Splitter | None, texts: list[str]) -> list[Split]:
        return measure(splitter, texts, self.lengths.setdefault(model, Lengths()))

    def fields_for(self, texts: list[str]) -> list[dict[str, Any]]:
        """One ``{field: value}`` per text, in order."""
        return self.fields_for_chunks([texts])[0]

    def fields_for_chunks(self, chunks: Sequence[list[str]]) -> list[list[dict[str, Any]]]:
        """:meth:`fields_for` of each chunk of texts, the chunks encoded together (on a
        pool, side by side); each chunk is one encoder batch, as it would be alone."""
        dense = self.dense is not None and bool(self.fields.dense)
        sparse = self.sparse is not None and bool(self.fields.sparse)
        work: list[Chunk] = []
        counts: list[tuple[list[int], list[int]]] = []
        for texts in chunks:
            dense_texts, dense_counts = (
                flatten(self._splits("dense", self.splitters.dense, texts)) if dense else ([], [])
            )
            sparse_texts, sparse_counts = (
                flatten(self._splits("sparse", self.splitters.sparse, texts))
                if sparse
                else ([], [])
            )
            work.append(Chunk(dense_texts if dense else None, sparse_texts if sparse else None))
            counts.append((dense_counts, sparse_counts))
        encoded = self.encoder.encode_chunks(work, self.pruning) if work else []
        return [
            self._assemble(len(texts), done, *count)
            for texts, done, count in zip(chunks, encoded, counts, strict=True)
        ]

    def _assemble(
        self, n: int, encoded: Encoded, dense_counts: list[int], sparse_counts: list[int]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        if encoded.dense is not None and self.fields.dense:
            for fields, group in zip(out, regroup(encoded.dense, dense_counts), strict=True):
                if self.fields.passages:
                    fields[self.fields.dense] = [{PASSAGE_VECTOR: v} for v in group]
                else:
                    fields[self.fields.dense] = group[0]
        if encoded.sparse is not None and self.fields.sparse:
            for fields, weights in zip(out, regroup(encoded.sparse, sparse_counts), strict=True):
                pooled = max_pool(weights, self.pruning)
                fields[self.fields.sparse] = {encode_term(t): w for t, w in pooled.items()}
        return out

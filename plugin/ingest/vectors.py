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


class VectorBuilder:
    """Makes the vector fields of a batch of texts; ``lengths`` counts, per model, the
    texts longer than its window, the tokens past it and the passages encoded."""

    def __init__(
        self,
        fields: FieldMap,
        dense: DocumentDense | None,
        sparse: DocumentSparse | None,
        pruning: Pruning = Pruning(),
        splitters: Splitters | None = None,
    ) -> None:
        if dense is None and sparse is None:
            raise ValueError("ingest needs a dense or a sparse encoder (or both)")
        self.fields = fields
        self.dense = dense
        self.sparse = sparse
        self.pruning = pruning
        self.splitters = splitters or Splitters()
        self.lengths: dict[str, Lengths] = {}

    def _splits(self, model: str, splitter: Splitter | None, texts: list[str]) -> list[Split]:
        return measure(splitter, texts, self.lengths.setdefault(model, Lengths()))

    def fields_for(self, texts: list[str]) -> list[dict[str, Any]]:
        """One ``{field: value}`` per text, in order."""
        out: list[dict[str, Any]] = [{} for _ in texts]
        if self.dense is not None and self.fields.dense:
            flat, counts = flatten(self._splits("dense", self.splitters.dense, texts))
            vectors: list[list[float]] = self.dense.encode(flat, InputKind.DOCUMENT).tolist()
            for fields, group in zip(out, regroup(vectors, counts), strict=True):
                if self.fields.passages:
                    fields[self.fields.dense] = [{PASSAGE_VECTOR: v} for v in group]
                else:
                    fields[self.fields.dense] = group[0]
        if self.sparse is not None and self.fields.sparse:
            flat, counts = flatten(self._splits("sparse", self.splitters.sparse, texts))
            encoded = self.sparse.encode(flat, self.pruning)
            for fields, weights in zip(out, regroup(encoded, counts), strict=True):
                pooled = max_pool(weights, self.pruning)
                fields[self.fields.sparse] = {encode_term(t): w for t, w in pooled.items()}
        return out

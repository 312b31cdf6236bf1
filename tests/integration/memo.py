"""Encodings kept for the whole test session, for fixtures that index the same texts
into each engine of the matrix (or each cluster): the models run once per text.

:class:`MemoEncoders` is a real :class:`~tandem.plugin.ingest.vectors.ChunkEncoder`
(the hook an encoder pool uses): a chunk seen before returns what the models made of
it then, anything else runs through the models. Only for fixtures whose subject is
search or fusion, not encoding or the timing of an ingest.
"""

from __future__ import annotations

from collections.abc import Sequence

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.sparse import Pruning, SpladeEncoder
from tandem.plugin.ingest.vectors import Chunk, Encoded, LocalEncoders

_KEPT: dict[tuple[str, tuple[str, ...], tuple[str, ...], Pruning], Encoded] = {}


class MemoEncoders:
    width = 1

    def __init__(self, dense: DenseEncoder, sparse: SpladeEncoder) -> None:
        self.models = LocalEncoders(dense, sparse)
        self.names = f"{dense.spec.name}+{sparse.spec.name}"

    def encode_chunks(self, chunks: Sequence[Chunk], pruning: Pruning) -> list[Encoded]:
        out = []
        for chunk in chunks:
            key = (self.names, tuple(chunk.dense or ()), tuple(chunk.sparse or ()), pruning)
            if key not in _KEPT:
                _KEPT[key] = self.models.encode_chunks([chunk], pruning)[0]
            out.append(_KEPT[key])
        return out

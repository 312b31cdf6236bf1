"""One encoder worker of the pool: the models, loaded once, and a chunk at a time.

The class is plain Python; :mod:`.pool` makes it a Ray actor. It imports nothing
of Ray, so the encoding it does is the very code of a single-process run
(:func:`~tandem.plugin.ingest.vectors.encode_chunk`).
"""

from __future__ import annotations

import os

from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import ModelSpec
from tandem.encoders.session import SessionOptions
from tandem.encoders.sparse import Pruning
from tandem.plugin.ingest.vectors import Chunk, Encoded, encode_chunk


class EncoderWorker:
    """The dense and sparse models of a run, each on ``threads`` intra-op threads
    (the CPUs the pool reserved for this worker)."""

    def __init__(
        self, dense: ModelSpec | None, sparse: ModelSpec | None, int8: bool, threads: int
    ) -> None:
        options = SessionOptions(threads=threads)
        self.dense = load_dense(dense, int8, options) if dense is not None else None
        self.sparse = load_sparse(sparse, int8, options) if sparse is not None else None

    def encode(self, chunk: Chunk, pruning: Pruning) -> Encoded:
        return encode_chunk(self.dense, self.sparse, chunk, pruning)

    def pid(self) -> int:
        """The worker's process id (a test kills it by this)."""
        return os.getpid()

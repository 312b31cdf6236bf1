"""The sidecar's batchers, seen from an ingest thread: documents share model runs with
every other request, count against ``--max-queue`` and show up in the encoder metrics.

``IndexDocuments`` runs its ingest on a thread; these adapters hand each batch of
passages to the event loop's batcher and wait for the vectors. A full queue is
back-pressure, not an error (nor is a batch loop that is restarting): the ingest
waits and tries again until its stream is stopped.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from tandem.encoders.pooling import FloatArray
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import Pruning, SparseVector

from .batcher import BatcherRestarting, QueueFull
from .encoding import DenseModel, SparseModel, Usage

T = TypeVar("T")
_BACKOFF = (0.05, 1.0)  # seconds: first wait when the queue is full, and the longest


class UsageTotal:
    """Tokens and model time an ingest used, summed over its batches (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens = 0
        self.queue_ms = 0.0
        self.inference_ms = 0.0

    def add(self, usage: Usage) -> None:
        with self._lock:
            self.tokens += usage.tokens
            self.queue_ms += usage.queue_ms
            self.inference_ms += usage.inference_ms

    def usage(self) -> Usage:
        with self._lock:
            return Usage(self.tokens, self.queue_ms, self.inference_ms)


class _Bridge:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, stop: threading.Event, total: UsageTotal
    ) -> None:
        self.loop = loop
        self.stop = stop
        self.total = total

    def run(self, job: Callable[[], Coroutine[Any, Any, tuple[T, Usage]]]) -> T:
        """Run ``job`` on the event loop from this thread; wait out a full queue."""
        wait = _BACKOFF[0]
        while True:
            try:
                result, usage = asyncio.run_coroutine_threadsafe(job(), self.loop).result()
            except (QueueFull, BatcherRestarting):  # back-pressure, or a loop restarting
                if self.stop.wait(wait):
                    raise
                wait = min(2 * wait, _BACKOFF[1])
                continue
            self.total.add(usage)
            return result


class BatchedDense:
    """Dense vectors for ingest, through the sidecar's dense batcher."""

    def __init__(self, model: DenseModel, bridge: _Bridge) -> None:
        self.model = model
        self.bridge = bridge

    def encode(self, texts: Sequence[str], kind: InputKind = InputKind.DOCUMENT) -> FloatArray:
        return self.bridge.run(lambda: self.model.encode(texts, kind))


class BatchedSparse:
    """Sparse vectors for ingest, through the sidecar's sparse batcher."""

    def __init__(self, model: SparseModel, bridge: _Bridge) -> None:
        self.model = model
        self.bridge = bridge

    def encode(self, texts: Sequence[str], pruning: Pruning = Pruning()) -> list[SparseVector]:
        top_k = pruning.top_k or 0
        return self.bridge.run(lambda: self.model.encode(texts, InputKind.DOCUMENT, top_k=top_k))


def batched(
    dense: DenseModel | None,
    sparse: SparseModel | None,
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
) -> tuple[BatchedDense | None, BatchedSparse | None, UsageTotal]:
    """Ingest-side encoders for the served models, and the usage they add up."""
    total = UsageTotal()
    bridge = _Bridge(loop, stop, total)
    return (
        BatchedDense(dense, bridge) if dense is not None else None,
        BatchedSparse(sparse, bridge) if sparse is not None else None,
        total,
    )

"""The ingest pipeline: read, skip what is stored (resume), encode, write, report.

Encoding runs in the calling thread while up to ``concurrency`` bulk requests
are in flight on worker threads (onnxruntime releases the GIL), so the engine
indexes one chunk while the next is being encoded. A document counts as
indexed only once the engine has accepted it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal

from tandem.encoders.passages import Lengths
from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.errors import EngineRequestError

from .bulk import BulkWriter, ChunkBuffer, DocResult, Pending
from .documents import BadLine, Document
from .progress import Snapshot
from .vectors import DocumentDense, DocumentSparse, FieldMap, VectorBuilder

# Where ingest's callers have always found these.
__all__ = ["DocumentDense", "DocumentSparse", "FieldMap", "Ingestor", "SourceBuilder"]


@dataclass(frozen=True)
class IngestOptions:
    """``flush_seconds``: a partly filled bulk request goes out once its oldest document
    has waited this long (and the first batch goes out at once), so slow encoding still
    shows results and progress from the start; full requests go out as before."""

    batch_size: int = 32
    resume: bool = False
    pruning: Pruning = field(default_factory=Pruning)
    flush_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.flush_seconds <= 0:
            raise ValueError(f"flush_seconds must be positive, got {self.flush_seconds}")


@dataclass(frozen=True)
class Failure:
    id: str
    reason: str


Outcome = Literal["indexed", "skipped", "failed"]
_RESUME_RETRIES = (1.0,)  # seconds before trying the resume lookup again (one retry)
ResultHook = Callable[[str, Outcome, str | None], None]


@dataclass
class IngestReport:
    indexed: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    # Per model ("dense", "sparse"): texts longer than its window, and the passages.
    lengths: dict[str, Lengths] = field(default_factory=dict)

    @property
    def docs_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def snapshot(self, total: int | None, started: float) -> Snapshot:
        return Snapshot(
            self.indexed, len(self.failures), self.skipped, time.monotonic() - started, total
        )


class SourceBuilder(VectorBuilder):
    """Turns documents into engine sources: their own fields, plus the vector fields
    :class:`~.vectors.VectorBuilder` makes from their text."""

    def build(self, docs: Sequence[Document]) -> list[Pending]:
        return self.build_batches([docs])[0]

    def build_batches(self, batches: Sequence[Sequence[Document]]) -> list[list[Pending]]:
        """:meth:`build` of each batch, encoded together (side by side on a pool)."""
        vectors = self.fields_for_chunks([[d.passage() for d in docs] for docs in batches])
        return [
            [
                Pending.of(d.id, {**d.metadata, **d.text, **v})
                for d, v in zip(docs, out, strict=True)
            ]
            for docs, out in zip(batches, vectors, strict=True)
        ]


def batched(items: Iterable[Document | BadLine], size: int) -> Iterator[list[Document | BadLine]]:
    batch: list[Document | BadLine] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Ingestor:
    """Runs one ingest into one index."""

    def __init__(
        self,
        writer: BulkWriter,
        builder: SourceBuilder,
        options: IngestOptions = IngestOptions(),
        progress: Callable[[Snapshot, bool], None] | None = None,
        on_result: ResultHook | None = None,
    ) -> None:
        """``on_result(id, outcome, reason)`` hears about every document as it is settled."""
        self.writer = writer
        self.builder = builder
        self.options = options
        self.progress = progress
        self.on_result = on_result

    def _settle(self, doc_id: str, outcome: Outcome, reason: str | None = None) -> None:
        if self.on_result is not None:
            self.on_result(doc_id, outcome, reason)

    def _stored(self, ids: list[str]) -> set[str]:
        """Which ``ids`` the index holds (resume); a transient engine error is retried."""
        for wait in _RESUME_RETRIES:
            try:
                return self.writer.adapter.existing_ids(self.writer.index, ids)
            except EngineRequestError as err:
                if not err.retryable:
                    raise
                time.sleep(wait)
        return self.writer.adapter.existing_ids(self.writer.index, ids)

    def _to_encode(self, batch: list[Document | BadLine], report: IngestReport) -> list[Document]:
        """The documents of ``batch`` to encode: bad lines fail, stored ones (resume) skip."""
        docs = [r for r in batch if isinstance(r, Document)]
        for bad in (r for r in batch if isinstance(r, BadLine)):
            report.failures.append(Failure(bad.id, bad.reason))
            self._settle(bad.id, "failed", bad.reason)
        if self.options.resume and docs:
            stored = self._stored([d.id for d in docs])
            for doc in docs:
                if doc.id in stored:
                    report.skipped += 1
                    self._settle(doc.id, "skipped")
            docs = [d for d in docs if d.id not in stored]
        return docs

    def run(self, records: Iterable[Document | BadLine], total: int | None = None) -> IngestReport:
        report = IngestReport()
        started = time.monotonic()
        bulk = self.writer.options
        inflight: deque[Future[list[DocResult]]] = deque()
        buffer = ChunkBuffer(bulk.max_docs, bulk.max_bytes)

        def collect(future: Future[list[DocResult]]) -> None:
            for result in future.result():
                if result.ok:
                    report.indexed += 1
                    self._settle(result.id, "indexed")
                else:
                    report.failures.append(Failure(result.id, result.reason or "rejected"))
                    self._settle(result.id, "failed", result.reason or "rejected")
            if self.progress:
                self.progress(report.snapshot(total, started), False)

        first = True  # the first batch goes out at once: results and progress from the start
        with ThreadPoolExecutor(bulk.concurrency, thread_name_prefix="tandem-bulk") as pool:

            def submit(chunk: list[Pending]) -> None:
                while len(inflight) >= bulk.concurrency:
                    collect(inflight.popleft())
                inflight.append(pool.submit(self.writer.send, chunk))

            # One round is as many encoder batches as the builder works on at once (one
            # here; one per worker of an encoder pool), each batch cut as it would be alone.
            batches = batched(records, self.options.batch_size)
            width = max(1, self.builder.width)
            for round_ in iter(lambda: list(islice(batches, width)), []):
                todo = [self._to_encode(batch, report) for batch in round_]
                todo = [docs for docs in todo if docs]
                for items in self.builder.build_batches(todo) if todo else []:
                    for item in items:
                        full = buffer.add(item)
                        if full:
                            submit(full)
                    if first or buffer.age() >= self.options.flush_seconds:
                        submit(buffer.flush())
                        first = False
            rest = buffer.flush()
            if rest:
                submit(rest)
            while inflight:
                collect(inflight.popleft())
        report.seconds = time.monotonic() - started
        report.lengths = self.builder.lengths
        if self.progress:
            self.progress(report.snapshot(total, started), True)
        return report

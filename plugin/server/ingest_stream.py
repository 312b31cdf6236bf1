"""One ``IndexDocuments`` stream: read documents, ingest them on a thread, stream results back.

Three parts run at once. A reader task takes documents off the request stream
into a bounded queue (back-pressure: it waits while the queue is full). The
:class:`~tandem.plugin.ingest.pipeline.Ingestor` runs on a thread of the
sidecar's own ingest pool, never the default executor, so ingest cannot starve
Search. Results come back to the event loop as documents settle and are
answered at once, so there is no size limit on a stream. Whichever way the
stream ends (done, a dead worker, a cancelled call), the reader stops, the
worker is told to stop, and its pool slot is freed when its thread returns.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.index.fields import VectorFields
from tandem.plugin.ingest.assemble import build_ingestor
from tandem.plugin.ingest.documents import Document
from tandem.plugin.ingest.passages import Splitters
from tandem.plugin.ingest.pipeline import FieldMap, IngestOptions, IngestReport, Outcome
from tandem.v1 import index_pb2

from . import convert
from .errors import InvalidRequest, NotReady
from .ingest_encoders import batched
from .runtime import Runtime

_QUEUE_DOCS = 512  # documents read ahead of the ingestor
_POLL = 0.05  # seconds between checks while a queue is full or empty
_END = object()
_STATUS = {
    "indexed": index_pb2.DOCUMENT_STATUS_INDEXED,
    "skipped": index_pb2.DOCUMENT_STATUS_SKIPPED,
    "failed": index_pb2.DOCUMENT_STATUS_FAILED,
}


def _drain(documents: queue.Queue[Any], stop: threading.Event) -> Iterator[Document]:
    while not stop.is_set():
        try:
            item = documents.get(timeout=_POLL)
        except queue.Empty:
            continue
        if item is _END:
            return
        yield item


@dataclass
class _Tally:
    """What the client has been told so far, and which stream position each id holds."""

    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    positions: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))

    def settled(
        self, doc_id: str, outcome: Outcome, reason: str | None
    ) -> index_pb2.DocumentResult:
        waiting = self.positions.get(doc_id)
        position = waiting.popleft() if waiting else 0
        return result(position, doc_id, outcome, reason)

    def messages(
        self, results: list[index_pb2.DocumentResult], budget: int
    ) -> Iterator[index_pb2.IndexDocumentsResponse]:
        """``results`` in messages of at most ``budget`` bytes each, with running totals."""
        chunk: list[index_pb2.DocumentResult] = []
        size = 0
        for item in results:
            cost = item.ByteSize() + 8
            if chunk and size + cost > budget:
                yield self._message(chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += cost
        if chunk:
            yield self._message(chunk)

    def _message(self, results: list[index_pb2.DocumentResult]) -> index_pb2.IndexDocumentsResponse:
        for item in results:
            if item.status == index_pb2.DOCUMENT_STATUS_INDEXED:
                self.indexed += 1
            elif item.status == index_pb2.DOCUMENT_STATUS_SKIPPED:
                self.skipped += 1
            else:
                self.failed += 1
        return index_pb2.IndexDocumentsResponse(
            results=results, indexed=self.indexed, skipped=self.skipped, failed=self.failed
        )


def result(
    position: int, doc_id: str, outcome: Outcome, reason: str | None
) -> index_pb2.DocumentResult:
    return index_pb2.DocumentResult(
        id=doc_id, status=_STATUS[outcome], reason=reason or "", position=position
    )


class IngestStream:
    """Runs one stream after its header was checked; :meth:`results` yields the answers."""

    def __init__(
        self,
        runtime: Runtime,
        adapter: EngineAdapter,
        header: index_pb2.IndexHeader,
        fields: VectorFields,
    ) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.index = header.index
        self.loop = asyncio.get_running_loop()
        self.stop = threading.Event()
        # Documents go through the batchers like every other request: shared model runs,
        # --max-queue, the encoder metrics, and the tokens and times in the metadata.
        dense, sparse, self.usage = batched(runtime.dense, runtime.sparse, self.loop, self.stop)
        self.ingestor = build_ingestor(
            adapter,
            header.index,
            FieldMap(
                fields.dense if dense is not None else None,
                fields.sparse if sparse is not None else None,
                fields.passages is not None,
            ),
            dense,
            sparse,
            pruning=Pruning(top_k=header.sparse_top_k or None),
            options=IngestOptions(resume=header.resume),
            on_result=self._settle,
            splitters=Splitters.for_index(
                runtime.dense.encoder if dense is not None and runtime.dense else None,
                runtime.sparse.encoder if sparse is not None and runtime.sparse else None,
                fields.passages,
            ),
        )
        self.documents: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_DOCS)
        self.tally = _Tally()
        self.settled: asyncio.Queue[tuple[str, Outcome, str | None]] = asyncio.Queue()
        self.rejected: asyncio.Queue[index_pb2.DocumentResult] = asyncio.Queue()
        # Results per answer stay well under the message limit, whatever the ids' length.
        self.budget = runtime.max_message_bytes // 2

    def _settle(self, doc_id: str, outcome: Outcome, reason: str | None) -> None:
        """Called on the ingest thread for every settled document."""
        self.runtime.metrics.documents.labels(outcome).inc()
        self.loop.call_soon_threadsafe(self.settled.put_nowait, (doc_id, outcome, reason))

    async def _put(self, item: Any, worker: asyncio.Future[IngestReport]) -> bool:
        """Queue ``item`` for the worker, waiting while the queue is full; ``False`` once the
        worker has ended (then nothing more is read)."""
        while not worker.done():
            try:
                self.documents.put_nowait(item)
                return True
            except queue.Full:
                await asyncio.sleep(_POLL)
        return False

    async def _read(
        self, stream: AsyncIterator[index_pb2.IndexDocumentsRequest], worker: asyncio.Future[Any]
    ) -> None:
        position = 0
        async for message in stream:
            position += 1
            if message.WhichOneof("item") != "document":
                raise InvalidRequest(f"message {position + 1}: only the first message is a header")
            try:
                doc = convert.document(message.document, position)
                self._check_size(doc, position)
            except ValueError as err:
                self.runtime.metrics.documents.labels("failed").inc()
                self.rejected.put_nowait(result(position, message.document.id, "failed", str(err)))
                continue
            self.tally.positions[doc.id].append(position)
            if not await self._put(doc, worker):
                return
        await self._put(_END, worker)

    def _check_size(self, doc: Document, position: int) -> None:
        size = len(doc.passage().encode())
        limit = self.runtime.limits.max_text_bytes
        if size > limit:
            raise InvalidRequest(
                f"document {position} ({doc.id}): its text is {size} bytes, over the sidecar's "
                f"--max-text-bytes {limit}; split it into passages"
            )

    def _take(self) -> list[index_pb2.DocumentResult]:
        out = []
        while not self.rejected.empty():
            out.append(self.rejected.get_nowait())
        while not self.settled.empty():
            out.append(self.tally.settled(*self.settled.get_nowait()))
        return out

    async def results(
        self, stream: AsyncIterator[index_pb2.IndexDocumentsRequest], started: float
    ) -> AsyncIterator[index_pb2.IndexDocumentsResponse]:
        pool = self.runtime.ingest
        pool.claim()
        worker = self.loop.run_in_executor(
            pool.executor, self.ingestor.run, _drain(self.documents, self.stop)
        )
        worker.add_done_callback(lambda _: pool.release())
        reader = asyncio.ensure_future(self._read(stream, worker))
        stopping = asyncio.ensure_future(self.runtime.stopping.wait())
        try:
            while not worker.done():
                getter = asyncio.ensure_future(self.settled.get())
                waits: set[asyncio.Future[Any]] = {worker, getter, stopping}
                if not reader.done():
                    waits.add(reader)
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                batch = []
                if getter.done():
                    batch.append(self.tally.settled(*getter.result()))
                else:
                    getter.cancel()  # nothing taken: a cancelled Queue.get loses no item
                if reader.done() and not reader.cancelled() and reader.exception():
                    reader.result()  # the client broke the protocol: answer with that
                batch += self._take()
                for message in self.tally.messages(batch, self.budget):
                    yield message
                if stopping.done():
                    async for message in self._shut_down(worker, reader):
                        yield message
            worker.result()  # a dead worker ends the stream with its error, now
            await reader
            await asyncio.to_thread(self.adapter.refresh, self.index)
            for message in self.tally.messages(self._take(), self.budget):
                yield message
            final = index_pb2.IndexDocumentsResponse(
                indexed=self.tally.indexed,
                skipped=self.tally.skipped,
                failed=self.tally.failed,
                metadata=convert.metadata(
                    self.usage.usage(), 0.0, 1000 * (time.perf_counter() - started)
                ),
                done=True,
            )
            yield final
        finally:
            self.stop.set()
            reader.cancel()
            stopping.cancel()

    async def _shut_down(
        self, worker: asyncio.Future[IngestReport], reader: asyncio.Future[None]
    ) -> AsyncIterator[index_pb2.IndexDocumentsResponse]:
        """The sidecar is stopping: read no more, let the batch in hand settle, answer what
        was done, and end the stream with a status that says how to carry on."""
        reader.cancel()
        self.stop.set()
        await asyncio.wait([worker])
        for message in self.tally.messages(self._take(), self.budget):
            yield message
        raise NotReady(
            f"the sidecar is shutting down: {self.tally.indexed} documents of this stream were "
            "indexed and reported; send the stream again with resume=true (to another replica) "
            "to index the rest"
        )

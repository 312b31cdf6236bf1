"""``tandem.v1.IndexService``: create and delete indexes, stream documents in.

``IndexDocuments`` feeds the same :class:`~tandem.plugin.ingest.pipeline.Ingestor`
as ``tandem index``: the stream is read on the event loop into a bounded queue,
and the ingestor (encode, bulk write with retries) runs on a thread.
"""

from __future__ import annotations

import asyncio
import json
import queue
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from grpc import aio

from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.errors import IndexNotFound
from tandem.plugin.index.mapping import build_index_body
from tandem.plugin.index.spec import IndexSpec, default_spec
from tandem.plugin.ingest.assemble import build_ingestor
from tandem.plugin.ingest.documents import Document
from tandem.plugin.ingest.pipeline import IngestOptions, Outcome
from tandem.v1 import index_pb2, index_pb2_grpc

from . import convert
from .encoding import Usage
from .errors import Servicer, unary
from .runtime import Runtime

Context = aio.ServicerContext[Any, Any]
_QUEUE_DOCS = 512  # documents read ahead of the ingestor
_STATUS = {
    "indexed": index_pb2.DOCUMENT_STATUS_INDEXED,
    "skipped": index_pb2.DOCUMENT_STATUS_SKIPPED,
    "failed": index_pb2.DOCUMENT_STATUS_FAILED,
}
_END = object()


def _drain(documents: queue.Queue[Any]) -> Iterator[Document]:
    while True:
        item = documents.get()
        if item is _END:
            return
        yield item


class IndexServicer(Servicer, index_pb2_grpc.IndexServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.metrics)
        self.runtime = runtime

    @unary("CreateIndex")
    async def CreateIndex(
        self, request: index_pb2.CreateIndexRequest, context: Context
    ) -> index_pb2.CreateIndexResponse:
        started = time.perf_counter()
        dense = self.runtime.dense
        raw = convert.json_object(request.spec_json, "spec_json")
        spec = IndexSpec.from_dict(
            convert.with_model_dims(raw, dense.dimensions if dense is not None else None)
        )
        if dense is not None and spec.dense is not None and spec.dense.dims != dense.dimensions:
            raise ValueError(
                f"dense field {spec.dense.name!r} has dims {spec.dense.dims}, but the sidecar's "
                f"model {dense.name} produces {dense.dimensions}: leave dims out to use the model's"
            )
        adapter = self.runtime.engine.require()
        body = build_index_body(
            spec,
            adapter.capabilities,
            model_dims=dense.dimensions if dense is not None else None,
            model_name=dense.name if dense is not None else None,
        )
        engine_started = time.perf_counter()
        await asyncio.to_thread(adapter.create_index, spec.name, body)
        done = time.perf_counter()
        return index_pb2.CreateIndexResponse(
            index=spec.name,
            body_json=json.dumps(body),
            metadata=convert.metadata(
                Usage(), 1000 * (done - engine_started), 1000 * (done - started)
            ),
        )

    @unary("DeleteIndex")
    async def DeleteIndex(
        self, request: index_pb2.DeleteIndexRequest, context: Context
    ) -> index_pb2.DeleteIndexResponse:
        started = time.perf_counter()
        if not request.index.strip():
            raise ValueError("index is empty: name the index to delete")
        if any(c in request.index for c in "*,"):
            raise ValueError(f"index {request.index!r}: wildcards and lists are not deleted")
        adapter = self.runtime.engine.require()
        if not await asyncio.to_thread(adapter.index_exists, request.index):
            raise IndexNotFound(f"index {request.index!r} does not exist")
        await asyncio.to_thread(adapter.delete_index, request.index)
        elapsed = 1000 * (time.perf_counter() - started)
        return index_pb2.DeleteIndexResponse(metadata=convert.metadata(Usage(), elapsed, elapsed))

    @unary("IndexDocuments")
    async def IndexDocuments(
        self, request_iterator: AsyncIterator[index_pb2.IndexDocumentsRequest], context: Context
    ) -> index_pb2.IndexDocumentsResponse:
        started = time.perf_counter()
        stream = aiter(request_iterator)
        first = await anext(stream, None)
        if first is None or first.WhichOneof("item") != "header":
            raise ValueError("the first message must be a header naming the index")
        header = first.header
        if not header.index.strip():
            raise ValueError("header.index is empty: name the index to write to")
        adapter = self.runtime.engine.require()
        if not await asyncio.to_thread(adapter.index_exists, header.index):
            raise IndexNotFound(
                f"index {header.index!r} does not exist: create it first (CreateIndex)"
            )
        dense, sparse = self.runtime.dense, self.runtime.sparse
        spec = default_spec(
            header.index,
            dims=dense.dimensions if dense is not None else None,
            sparse=sparse is not None,
        )
        outcomes: dict[str, tuple[Outcome, str | None]] = {}

        def settle(doc_id: str, outcome: Outcome, reason: str | None) -> None:
            outcomes[doc_id] = (outcome, reason)
            self.metrics.documents.labels(outcome).inc()

        ingestor = build_ingestor(
            adapter,
            spec,
            dense.encoder if dense is not None else None,
            sparse.encoder if sparse is not None else None,
            pruning=Pruning(top_k=header.sparse_top_k or None),
            options=IngestOptions(resume=header.resume),
            on_result=settle,
        )
        documents: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_DOCS)
        run = asyncio.ensure_future(asyncio.to_thread(ingestor.run, _drain(documents)))
        order: list[str] = []
        rejected: dict[int, index_pb2.DocumentResult] = {}
        try:
            position = 0
            async for message in stream:
                position += 1
                if message.WhichOneof("item") != "document":
                    raise ValueError(f"message {position + 1}: only the first message is a header")
                try:
                    doc = convert.document(message.document, position)
                except ValueError as err:
                    rejected[len(order)] = index_pb2.DocumentResult(
                        id=message.document.id,
                        status=index_pb2.DOCUMENT_STATUS_FAILED,
                        reason=str(err),
                    )
                    self.metrics.documents.labels("failed").inc()
                    order.append("")
                    continue
                order.append(doc.id)
                while True:
                    try:
                        documents.put_nowait(doc)
                        break
                    except queue.Full:
                        await asyncio.sleep(0.005)
        finally:
            await asyncio.to_thread(documents.put, _END)
            report = await run
        # Searchable once answered: what the client was told is indexed can be found.
        await asyncio.to_thread(adapter.refresh, header.index)
        results = []
        for i, doc_id in enumerate(order):
            if i in rejected:
                results.append(rejected[i])
                continue
            outcome, reason = outcomes.get(doc_id, ("failed", "not settled"))
            results.append(
                index_pb2.DocumentResult(id=doc_id, status=_STATUS[outcome], reason=reason or "")
            )
        total = 1000 * (time.perf_counter() - started)
        return index_pb2.IndexDocumentsResponse(
            results=results,
            indexed=report.indexed,
            skipped=report.skipped,
            failed=len(report.failures) + len(rejected),
            metadata=convert.metadata(Usage(), 0.0, total),
        )

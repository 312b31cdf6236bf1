"""``tandem.v1.IndexService``: create and delete indexes, stream documents in.

``IndexDocuments`` checks the header here (the index name against the operator's
list, the index's vector fields from its mapping) and hands the stream to
:mod:`.ingest_stream`, which feeds the same ingest as ``tandem index``. Every
index name a request carries passes the operator's index policy, and
``DeleteIndex`` removes only indices Tandem created, unless the operator allows
more.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from grpc import aio

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import CapabilityError, IndexNotFound
from tandem.plugin.index.fields import VectorFields, created_by_tandem, vector_fields
from tandem.plugin.index.mapping import build_index_body
from tandem.plugin.index.names import IndexNotAllowed
from tandem.plugin.index.spec import IndexSpec
from tandem.plugin.ingest.passages import check_windows
from tandem.v1 import index_pb2, index_pb2_grpc

from . import convert
from .encoding import Usage
from .enrich_stream import EnrichStream
from .errors import InvalidRequest, Servicer, streaming, unary, validating
from .ingest_stream import IngestStream
from .runtime import Runtime

Context = aio.ServicerContext[Any, Any]


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
        with validating():
            raw = convert.json_object(request.spec_json, "spec_json")
            spec = IndexSpec.from_dict(
                convert.with_model_dims(raw, dense.dimensions if dense is not None else None)
            )
            self.runtime.indices.check(spec.name, "spec_json.name")
            if dense is not None and spec.dense is not None and spec.dense.dims != dense.dimensions:
                raise InvalidRequest(
                    f"dense field {spec.dense.name!r} has dims {spec.dense.dims}, but the "
                    f"sidecar's model {dense.name} produces {dense.dimensions}: leave dims out "
                    "to use the model's"
                )
            # A passage window longer than a model reads is refused before the index exists.
            sparse = self.runtime.sparse
            check_windows(
                dense.encoder if dense is not None else None,
                sparse.encoder if sparse is not None else None,
                spec.passages,
            )
        adapter = self.runtime.engine.require()
        with validating():
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
        self.runtime.indices.check(request.index)
        adapter = self.runtime.engine.require()
        if not await asyncio.to_thread(adapter.index_exists, request.index):
            raise IndexNotFound(f"index {request.index!r} does not exist")
        mappings = await asyncio.to_thread(adapter.get_mapping, request.index)
        if not created_by_tandem(mappings) and not self.runtime.allow_delete_any_index:
            raise IndexNotAllowed(
                f"index {request.index!r} was not created by Tandem, so DeleteIndex leaves it; "
                "an operator can allow that with tandem serve --allow-delete-any-index"
            )
        await asyncio.to_thread(adapter.delete_index, request.index)
        elapsed = 1000 * (time.perf_counter() - started)
        return index_pb2.DeleteIndexResponse(metadata=convert.metadata(Usage(), elapsed, elapsed))

    @streaming("IndexDocuments")
    async def IndexDocuments(
        self, request_iterator: AsyncIterator[index_pb2.IndexDocumentsRequest], context: Context
    ) -> AsyncIterator[index_pb2.IndexDocumentsResponse]:
        started = time.perf_counter()
        stream = aiter(request_iterator)
        first = await anext(stream, None)
        if first is None or first.WhichOneof("item") != "header":
            raise InvalidRequest("the first message must be a header naming the index")
        header = first.header
        self.runtime.indices.check(header.index, "header.index")
        adapter = self.runtime.engine.require()
        if not await asyncio.to_thread(adapter.index_exists, header.index):
            raise IndexNotFound(
                f"index {header.index!r} does not exist: create it first (CreateIndex)"
            )
        mappings = await asyncio.to_thread(adapter.get_mapping, header.index)
        fields = self._fields(header.index, mappings, adapter)
        ingest = IngestStream(self.runtime, adapter, header, fields)
        async for response in ingest.results(stream, started):
            yield response

    @streaming("EnrichIndex")
    async def EnrichIndex(
        self, request_iterator: AsyncIterator[index_pb2.EnrichIndexRequest], context: Context
    ) -> AsyncIterator[index_pb2.EnrichIndexResponse]:
        started = time.perf_counter()
        stream = aiter(request_iterator)
        first = await anext(stream, None)
        if first is None or first.WhichOneof("item") != "start":
            raise InvalidRequest("the first message must be a start message naming the index")
        adapter = self.runtime.engine.require()
        enrich = EnrichStream(self.runtime, adapter, first.start)
        the_plan = await enrich.prepare()
        async for response in enrich.responses(the_plan, stream, started):
            yield response

    def _fields(self, index: str, mappings: dict[str, Any], adapter: EngineAdapter) -> VectorFields:
        """The index's vector fields that this sidecar's models can fill, checked."""
        fields = vector_fields(index, mappings, adapter.capabilities.kind)
        dense, sparse = self.runtime.dense, self.runtime.sparse
        if dense is not None and fields.dims is not None and fields.dims != dense.dimensions:
            raise CapabilityError(
                f"index {index!r} holds {fields.dims}-dimension vectors in {fields.dense!r}, "
                f"but the sidecar's model {dense.name} makes {dense.dimensions}"
            )
        if (fields.dense is None or dense is None) and (fields.sparse is None or sparse is None):
            raise CapabilityError(
                f"index {index!r} has dense field {fields.dense!r} and sparse field "
                f"{fields.sparse!r}, and this sidecar serves no model for either"
            )
        return fields

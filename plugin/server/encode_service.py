"""``tandem.v1.EncodeService`` and ``tandem.v1.InfoService``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import version
from typing import Any, TypeVar

from grpc import aio

from tandem.plugin.engines.base import Capabilities
from tandem.v1 import encode_pb2, encode_pb2_grpc, info_pb2, info_pb2_grpc

from . import convert
from .errors import Servicer, streaming, unary
from .runtime import Runtime

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Context = aio.ServicerContext[Any, Any]
# Messages of one stream encoded concurrently, so they can share batches.
STREAM_AHEAD = 8


async def ordered(
    requests: AsyncIterator[Req], handle: Callable[[Req], Awaitable[Resp]], ahead: int
) -> AsyncIterator[Resp]:
    """Handle up to ``ahead`` requests at once; yield the answers in request order."""
    window: list[asyncio.Task[Resp]] = []
    try:
        async for request in requests:
            window.append(asyncio.ensure_future(handle(request)))
            if len(window) >= ahead:
                yield await window.pop(0)
        while window:
            yield await window.pop(0)
    finally:
        for task in window:
            task.cancel()


class EncodeServicer(Servicer, encode_pb2_grpc.EncodeServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.metrics)
        self.runtime = runtime

    async def _dense(
        self, request: encode_pb2.EncodeDenseRequest
    ) -> encode_pb2.EncodeDenseResponse:
        started = time.perf_counter()
        model = self.runtime.require_dense()
        vectors, usage = await model.encode(
            list(request.texts),
            convert.input_kind(request.kind),
            truncate=request.truncate if request.HasField("truncate") else True,
            normalize=request.normalize if request.HasField("normalize") else None,
        )
        total = 1000 * (time.perf_counter() - started)
        return encode_pb2.EncodeDenseResponse(
            vectors=convert.dense_vectors(vectors), metadata=convert.metadata(usage, 0.0, total)
        )

    async def _sparse(
        self, request: encode_pb2.EncodeSparseRequest
    ) -> encode_pb2.EncodeSparseResponse:
        started = time.perf_counter()
        model = self.runtime.require_sparse()
        vectors, usage = await model.encode(
            list(request.texts),
            convert.input_kind(request.kind),
            truncate=request.truncate if request.HasField("truncate") else True,
            normalize=request.normalize if request.HasField("normalize") else False,
            top_k=request.top_k,
        )
        total = 1000 * (time.perf_counter() - started)
        return encode_pb2.EncodeSparseResponse(
            vectors=convert.sparse_vectors(vectors, request.return_tokens),
            metadata=convert.metadata(usage, 0.0, total),
        )

    @unary("EncodeDense")
    async def EncodeDense(
        self, request: encode_pb2.EncodeDenseRequest, context: Context
    ) -> encode_pb2.EncodeDenseResponse:
        return await self._dense(request)

    @streaming("EncodeDenseStream")
    async def EncodeDenseStream(
        self, request_iterator: AsyncIterator[encode_pb2.EncodeDenseRequest], context: Context
    ) -> AsyncIterator[encode_pb2.EncodeDenseResponse]:
        async for response in ordered(request_iterator, self._dense, STREAM_AHEAD):
            yield response

    @unary("EncodeSparse")
    async def EncodeSparse(
        self, request: encode_pb2.EncodeSparseRequest, context: Context
    ) -> encode_pb2.EncodeSparseResponse:
        return await self._sparse(request)

    @streaming("EncodeSparseStream")
    async def EncodeSparseStream(
        self, request_iterator: AsyncIterator[encode_pb2.EncodeSparseRequest], context: Context
    ) -> AsyncIterator[encode_pb2.EncodeSparseResponse]:
        async for response in ordered(request_iterator, self._sparse, STREAM_AHEAD):
            yield response


def features(caps: Capabilities) -> list[str]:
    """The capability flags as short names, for Info and ``tandem engines info``."""
    out = [f"knn:{engine}" for engine in caps.knn_engines]
    flags = {
        "dense": caps.dense,
        "rank_features": caps.rank_features,
        "sparse_vector": caps.sparse_vector,
        "neural_sparse": caps.neural_sparse,
        "hybrid_query": caps.hybrid_query,
        "rrf_pipeline": caps.rrf_pipeline,
    }
    out += [name for name, present in flags.items() if present]
    out += [f"normalization:{n}" for n in caps.normalization_techniques]
    out += [f"retriever:{r}" for r in caps.retrievers]
    return out


class InfoServicer(Servicer, info_pb2_grpc.InfoServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.metrics)
        self.runtime = runtime

    @unary("GetInfo")
    async def GetInfo(
        self, request: info_pb2.GetInfoRequest, context: Context
    ) -> info_pb2.GetInfoResponse:
        return self.info()

    def info(self) -> info_pb2.GetInfoResponse:
        """Version, models, limits and engines (the gRPC and HTTP faces both answer this)."""
        rt = self.runtime
        models = []
        if rt.dense is not None:
            models.append(
                info_pb2.ModelInfo(
                    kind="dense",
                    name=rt.dense.name,
                    dimensions=rt.dense.dimensions,
                    max_length=rt.dense.encoder.spec.max_length,
                    vocabulary_size=rt.dense.encoder.batcher.tokenizer.get_vocab_size(),
                    int8=rt.dense.int8,
                )
            )
        if rt.sparse is not None:
            models.append(
                info_pb2.ModelInfo(
                    kind="sparse",
                    name=rt.sparse.name,
                    vocabulary_size=rt.sparse.vocabulary_size,
                    max_length=rt.sparse.encoder.spec.max_length,
                    int8=rt.sparse.int8,
                    query_encoder=rt.sparse.query_encoder,
                )
            )
        limits = info_pb2.Limits(
            max_texts_per_request=rt.limits.max_texts,
            max_text_bytes=rt.limits.max_text_bytes,
            max_message_bytes=rt.max_message_bytes,
            max_batch_tokens=rt.batching.max_tokens,
            max_batch_rows=rt.batching.max_rows,
            max_wait_ms=rt.batching.max_wait_ms,
            max_queue=rt.batching.max_queue,
        )
        return info_pb2.GetInfoResponse(
            version=version("tandem-search"), models=models, limits=limits, engines=self._engines()
        )

    def _engines(self) -> list[info_pb2.EngineInfo]:
        link = self.runtime.engine
        if link.url is None:
            return []
        adapter = link.adapter
        if adapter is None:
            return [info_pb2.EngineInfo(url=link.display_url, reachable=False)]
        caps = adapter.capabilities
        return [
            info_pb2.EngineInfo(
                url=link.display_url,
                kind=caps.kind.value,
                version=caps.version_text,
                license=caps.license or "",
                plugins=sorted(caps.plugins),
                features=features(caps),
                reachable=link.reachable,
            )
        ]

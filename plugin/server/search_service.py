"""``tandem.v1.SearchService`` and ``tandem.v1.RewriteService``.

The query is encoded through the models' batchers (so concurrent searches
share model runs), then the engine work runs on a thread with the same
:class:`~tandem.plugin.search.searcher.Searcher` the CLI uses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from grpc import aio

from tandem.encoders.pooling import FloatArray
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import SparseVector
from tandem.plugin.engines.base import Completeness, EngineAdapter
from tandem.plugin.engines.errors import EngineUnavailable
from tandem.plugin.index.mapping import sparse_type_for
from tandem.plugin.search.partial import PartialResultsError, summary
from tandem.plugin.search.searcher import EncodedQuery, Searcher
from tandem.v1 import search_pb2, search_pb2_grpc

from . import convert
from .convert import SearchCall
from .encoding import DenseModel, SparseModel, Usage
from .errors import DeadlineExceeded, Servicer, unary
from .runtime import Runtime

Context = aio.ServicerContext[Any, Any]
Remaining = Callable[[], float | None]
log = logging.getLogger("tandem.server")


@dataclass(frozen=True)
class Planned:
    call: SearchCall
    searcher: Searcher
    encoded: EncodedQuery
    usage: Usage


class QueryPlanner:
    """Encodes a search's query and builds its :class:`Searcher`; shared by both services."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def encode(self, call: SearchCall) -> tuple[EncodedQuery, Usage]:
        """The query's vectors: from the query cache, else from the models' batchers (the
        dense and sparse models side by side). Usage counts the texts actually encoded."""
        wanted = call.options.retrievers
        jobs: list[Any] = []
        if "dense" in wanted:
            jobs.append(self._dense(self.runtime.require_dense(), call.query))
        if "sparse" in wanted:
            jobs.append(self._sparse(self.runtime.require_sparse(), call.query))
        done = list(await asyncio.gather(*jobs))
        vector = None
        terms = None
        usages = []
        if "dense" in wanted:
            dense_vector, usage = done.pop(0)
            vector = dense_vector.tolist()
            usages.append(usage)
        if "sparse" in wanted:
            sparse_vector, usage = done.pop(0)
            terms = sparse_vector.as_dict() or None
            usages.append(usage)
        total = Usage(
            sum(u.tokens for u in usages),
            max((u.queue_ms for u in usages), default=0.0),
            max((u.inference_ms for u in usages), default=0.0),
        )
        return EncodedQuery(vector, terms), total

    async def _dense(self, model: DenseModel, text: str) -> tuple[FloatArray, Usage]:
        key = f"{model.name}/{'int8' if model.int8 else 'fp32'}/query"
        cached = self.runtime.query_cache.get(key, text)
        if isinstance(cached, np.ndarray):
            return cached, Usage()
        vectors, usage = await model.encode([text], InputKind.QUERY)
        self.runtime.query_cache.put(key, text, vectors[0])
        return vectors[0], usage

    async def _sparse(self, model: SparseModel, text: str) -> tuple[SparseVector, Usage]:
        key = f"{model.name}/{'int8' if model.int8 else 'fp32'}/{model.query_encoder}"
        cached = self.runtime.query_cache.get(key, text)
        if isinstance(cached, SparseVector):
            return cached, Usage()
        vectors, usage = await model.encode([text], InputKind.QUERY)
        self.runtime.query_cache.put(key, text, vectors[0])
        return vectors[0], usage

    async def plan(self, request: search_pb2.SearchRequest) -> Planned:
        """Validate, check the engine, encode the query: everything before the engine call."""
        call = convert.search_call(request)
        # Refuse what the policies forbid before the engine check and the encoders' work.
        self.runtime.indices.check(call.index)
        self.runtime.policy.check(call.options.filters, call.dsl.template if call.dsl else None)
        adapter = self.runtime.engine.require()
        encoded, usage = await self.encode(call)
        return Planned(call, self.searcher(adapter, call), encoded, usage)

    def searcher(self, adapter: EngineAdapter, call: SearchCall) -> Searcher:
        sparse_type = None
        if "sparse" in call.options.retrievers:
            sparse_type = sparse_type_for(adapter.capabilities, call.sparse_field)
        return Searcher(
            adapter,
            None,
            None,
            sparse_type,
            call.dense_field,
            call.sparse_field,
            policy=self.runtime.policy,
            partial_results=self.runtime.partial_results,
            layouts=self.runtime.layouts,
            sizes=self.runtime.sizes,
        )


class SearchServicer(Servicer, search_pb2_grpc.SearchServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.metrics)
        self.runtime = runtime
        self.planner = QueryPlanner(runtime)

    @unary("Search")
    async def Search(
        self, request: search_pb2.SearchRequest, context: Context
    ) -> search_pb2.SearchResponse:
        return await self.search(request, context.time_remaining)

    async def search(
        self, request: search_pb2.SearchRequest, time_remaining: Remaining
    ) -> search_pb2.SearchResponse:
        """Answer ``request``; ``time_remaining`` gives the seconds left of the caller's
        deadline (``None``: no deadline). The gRPC and HTTP faces both call this."""
        started = time.perf_counter()
        p = await self.planner.plan(request)
        remaining = time_remaining()
        # The engine gets what is left of the caller's deadline, so a request the caller
        # has given up on does not hold an engine thread for the full --engine-timeout.
        timeout = max(0.05, remaining - 0.05) if remaining is not None else None
        try:
            result = await asyncio.to_thread(
                p.searcher.search,
                p.call.index,
                p.call.query,
                p.call.options,
                p.encoded,
                p.call.dsl,
                timeout,
            )
        except PartialResultsError as err:
            self._partial(p.call.index, err.completeness, served=False)
            raise
        except EngineUnavailable as err:
            left = time_remaining()
            if left is not None and left < 0.2:  # our own deadline-bound engine timeout
                raise DeadlineExceeded(
                    f"the engine did not answer within the request's deadline: {err}"
                ) from err
            raise
        if result.partial:
            self._partial(p.call.index, Completeness(result.timed_out, result.shard_failures))
        total = 1000 * (time.perf_counter() - started)
        return search_pb2.SearchResponse(
            hits=convert.hits(result.hits, p.call.explain, bool(p.call.options.document_fields)),
            metadata=convert.metadata(p.usage, result.engine_ms, total),
            mode=result.mode,
            partial=result.partial,
            timed_out=result.timed_out,
            shard_failures=result.shard_failures,
        )

    def _partial(self, index: str, report: Completeness, served: bool = True) -> None:
        self.runtime.metrics.partial(report)
        outcome = "served marked partial" if served else "refused (--partial-results fail)"
        log.warning("Search on %s: partial results %s: %s", index, outcome, summary(report))


class RewriteServicer(Servicer, search_pb2_grpc.RewriteServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.metrics)
        self.runtime = runtime
        self.planner = QueryPlanner(runtime)

    @unary("Rewrite")
    async def Rewrite(
        self, request: search_pb2.SearchRequest, context: Context
    ) -> search_pb2.RewriteResponse:
        return await self.rewrite(request)

    async def rewrite(self, request: search_pb2.SearchRequest) -> search_pb2.RewriteResponse:
        """The engine requests ``request`` becomes, without running them."""
        started = time.perf_counter()
        p = await self.planner.plan(request)
        rewritten = await asyncio.to_thread(
            p.searcher.rewrite,
            p.call.index,
            p.call.query,
            p.call.options,
            p.encoded,
            p.call.dsl,
        )
        native = rewritten.native
        total = 1000 * (time.perf_counter() - started)
        return search_pb2.RewriteResponse(
            mode=rewritten.mode,
            index=p.call.index,
            queries=[
                search_pb2.SubQuery(retriever=name, body_json=json.dumps(body))
                for name, body in rewritten.queries.items()
            ],
            metadata=convert.metadata(p.usage, 0.0, total),
            # Search stores no named pipeline: its pipeline is inside the hybrid request.
            pipeline="",
            pipeline_body_json=json.dumps(native.pipeline_body)
            if native and native.pipeline_body
            else "",
        )

"""Build, start and stop the sidecar: models, servicers, health, reflection, TLS, metrics.

:func:`start` returns a running :class:`Sidecar`; :func:`serve` (``tandem serve``)
runs one until SIGTERM or SIGINT, then shuts down in order: health says
NOT_SERVING, new RPCs are refused, in-flight ones get ``grace`` seconds to
finish, then the batchers, model threads and engine client close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from tandem.encoders.idf import IdfQueryEncoder, IdfTable
from tandem.encoders.loader import load_dense, load_sparse, text_batcher
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.encoders.session import SessionOptions
from tandem.encoders.text import Batching
from tandem.plugin.index.names import IndexPolicy
from tandem.plugin.search.partial import check_partial_results
from tandem.plugin.search.policy import QueryPolicy
from tandem.v1 import (
    encode_pb2,
    encode_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    info_pb2,
    info_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

from .auth import BearerAuth
from .batcher import BatcherOptions
from .encode_service import EncodeServicer, InfoServicer
from .encoding import DenseModel, Limits, SparseModel
from .engine import EngineLink
from .index_service import IndexServicer
from .ingest_pool import IngestPool
from .metrics import Metrics
from .runtime import Runtime
from .search_service import RewriteServicer, SearchServicer
from .settings import Settings

log = logging.getLogger("tandem.server")
Progress = Callable[[str], None]

ENCODE_SERVICES = (
    info_pb2.DESCRIPTOR.services_by_name["InfoService"].full_name,
    encode_pb2.DESCRIPTOR.services_by_name["EncodeService"].full_name,
)
ENGINE_SERVICES = (
    search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name,
    search_pb2.DESCRIPTOR.services_by_name["RewriteService"].full_name,
    index_pb2.DESCRIPTOR.services_by_name["IndexService"].full_name,
)
OVERALL = ""


def _log(message: str) -> None:
    log.info(message)


def load_runtime(settings: Settings, metrics: Metrics, progress: Progress = _log) -> Runtime:
    """Load and warm the models (blocking: minutes on a first run that exports ONNX)."""
    options = BatcherOptions(
        settings.max_batch_tokens, settings.max_batch_rows, settings.max_wait_ms, settings.max_queue
    )
    batching = Batching(rows=options.max_rows, max_tokens=options.max_tokens)
    session = SessionOptions(threads=settings.threads)
    limits = Limits(settings.max_texts, settings.max_text_bytes)
    dense = None
    if settings.dense_model is not None:
        spec = resolve_spec(settings.dense_model, ModelKind.DENSE)
        progress(f"loading dense model {spec.name}")
        encoder = load_dense(spec, settings.int8, session, progress, batching)
        dense = DenseModel(encoder, options, limits, metrics, settings.int8)
    sparse = None
    if settings.sparse_model is not None:
        spec = resolve_spec(settings.sparse_model, ModelKind.SPARSE)
        progress(f"loading sparse model {spec.name}")
        splade = load_sparse(spec, settings.int8, session, progress, batching)
        idf = None
        if settings.idf is not None:
            idf = IdfQueryEncoder(text_batcher(spec), IdfTable.from_json(settings.idf))
        sparse = SparseModel(splade, options, limits, metrics, idf, settings.int8)
    elif settings.idf is not None:
        raise ValueError("--idf needs a sparse model: its tokenizer and document side")
    engine = EngineLink(settings.engine_address(), settings.engine_timeout)
    return Runtime(
        dense,
        sparse,
        engine,
        metrics,
        limits,
        options,
        settings.max_message_bytes,
        IngestPool(settings.max_ingest_streams, metrics),
        policy=QueryPolicy(settings.allow_scripts, settings.allow_cross_index_queries),
        indices=IndexPolicy.parse(settings.indices),
        allow_delete_any_index=settings.allow_delete_any_index,
        partial_results=check_partial_results(settings.partial_results),
    )


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    pair = [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())]
    if settings.tls_client_ca is None:
        return grpc.ssl_server_credentials(pair)
    return grpc.ssl_server_credentials(
        pair, root_certificates=settings.tls_client_ca.read_bytes(), require_client_auth=True
    )


@dataclass
class Sidecar:
    """A started server and what it owns."""

    server: aio.Server
    port: int
    runtime: Runtime
    health: HealthServicer
    settings: Settings
    metrics_port: int | None = None
    _metrics_http: Any = None
    _watcher: asyncio.Task[None] | None = None
    _stopped: bool = field(default=False)

    async def _set(self, services: tuple[str, ...], serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in services:
            await self.health.set(name, status)

    async def refresh_health(self) -> None:
        """Check the engine once and publish every service's health."""
        link = self.runtime.engine
        reachable = await asyncio.to_thread(link.check)
        await self._set(ENCODE_SERVICES, True)
        await self._set(ENGINE_SERVICES, reachable)
        await self._set((OVERALL,), reachable or not link.configured)

    async def _watch_engine(self) -> None:
        while True:
            await asyncio.sleep(self.settings.engine_check_interval)
            try:
                await self.refresh_health()
            except Exception:  # keep watching: the next check may succeed
                log.exception("engine health check failed")

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, refuse new RPCs, let in-flight ones finish, release everything."""
        if self._stopped:
            return
        self._stopped = True
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.settings.grace if grace is None else grace)
        await self.runtime.close()
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()


async def start(settings: Settings, progress: Progress = _log) -> Sidecar:
    """Load models, bind, start serving; health turns SERVING once models are warm and
    the engine (if any) answers."""
    metrics = Metrics()
    runtime = await asyncio.to_thread(load_runtime, settings, metrics, progress)
    token = settings.token()
    limit = settings.max_message_bytes
    server = aio.server(
        interceptors=[BearerAuth(token)] if token else None,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ],
    )
    info_pb2_grpc.add_InfoServiceServicer_to_server(InfoServicer(runtime), server)
    encode_pb2_grpc.add_EncodeServiceServicer_to_server(EncodeServicer(runtime), server)
    search_pb2_grpc.add_SearchServiceServicer_to_server(SearchServicer(runtime), server)
    search_pb2_grpc.add_RewriteServiceServicer_to_server(RewriteServicer(runtime), server)
    index_pb2_grpc.add_IndexServiceServicer_to_server(IndexServicer(runtime), server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = (
        *ENCODE_SERVICES,
        *ENGINE_SERVICES,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    for name in (OVERALL, *ENCODE_SERVICES, *ENGINE_SERVICES):
        await health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    address = f"{settings.host}:{settings.port}"
    credentials = _credentials(settings)
    port = (
        server.add_secure_port(address, credentials)
        if credentials is not None
        else server.add_insecure_port(address)
    )
    if port == 0:
        raise OSError(f"could not bind {address}")
    await server.start()
    runtime.start()
    sidecar = Sidecar(server, port, runtime, health, settings)
    if settings.metrics_port >= 0:
        http, sidecar.metrics_port = metrics.serve(settings.metrics_host, settings.metrics_port)
        sidecar._metrics_http = http
    await sidecar.refresh_health()
    if runtime.engine.configured:
        sidecar._watcher = asyncio.get_running_loop().create_task(sidecar._watch_engine())
    scheme = "TLS" if credentials is not None else "plaintext"
    log.info("serving tandem.v1 on %s:%d (%s)", settings.host, port, scheme)
    if settings.port_file is not None:
        settings.port_file.write_text(f"{port}\n")
    return sidecar


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    log.info("settings: %s", settings.redacted())
    sidecar = await start(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("shutting down: refusing new requests, %.0f s for in-flight ones", settings.grace)
    with contextlib.suppress(asyncio.CancelledError):
        await sidecar.stop()
    log.info("stopped")

"""Build, start and stop the sidecar: models, servicers, health, reflection, TLS, metrics.

:func:`start` returns a running :class:`Sidecar`; :func:`serve` (``tandem serve``)
runs one until SIGTERM or SIGINT (``--port-file`` is written once both are handled),
then shuts down in order: health says NOT_SERVING, new RPCs are refused, in-flight
ones get ``grace`` seconds to finish, then the batchers, model threads and engine
client close. While running, health follows the engine checks and the batchers: a
batch loop that crashed turns the encode services and the whole sidecar NOT_SERVING
until it has restarted.
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
from .binding import StartError, bind_grpc, close_metrics, serve_metrics
from .encode_service import EncodeServicer, InfoServicer
from .encoding import DenseModel, Limits, SparseModel
from .engine import EngineLink
from .http import HttpFace, bind_http
from .index_service import IndexServicer
from .ingest_pool import IngestPool
from .metrics import Metrics
from .query_cache import QueryCache
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
    engine_url = settings.engine_address()  # a bad credentials file fails before the models load
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
    engine = EngineLink(engine_url, settings.engine_timeout)
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
        query_cache=QueryCache(
            settings.query_cache_entries,
            int(settings.query_cache_mb * 1024 * 1024),
            metrics.cache_lookup,
        ),
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
    http: HttpFace | None = None
    _metrics_http: Any = None
    _watcher: asyncio.Task[None] | None = None
    _stopped: bool = field(default=False)
    _engine_reachable: bool = False  # as of the last check
    _health_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _set(self, services: tuple[str, ...], serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in services:
            await self.health.set(name, status)

    @property
    def http_port(self) -> int | None:
        """The HTTP/JSON face's bound port (``None``: off)."""
        return self.http.port if self.http is not None else None

    def serving(self) -> bool:
        """What the overall health says: models running, and the engine (if any) answering."""
        engine_ok = self._engine_reachable or not self.runtime.engine.configured
        return not self._stopped and self.runtime.serving and engine_ok

    async def refresh_health(self) -> None:
        """Check the engine once and publish every service's health."""
        self._engine_reachable = await asyncio.to_thread(self.runtime.engine.check)
        await self.publish_health()

    async def publish_health(self) -> None:
        """Publish every service's health from the batchers (is every batch loop running?)
        and the last engine check; the batchers call it when a loop crashes or restarts."""
        async with self._health_lock:  # read inside: the last writer publishes the latest state
            encoding = self.runtime.serving
            engine = self._engine_reachable
            await self._set(ENCODE_SERVICES, encoding)
            await self._set(ENGINE_SERVICES, engine)
            await self._set((OVERALL,), encoding and (engine or not self.runtime.engine.configured))

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
        self.runtime.stopping.set()
        await self.health.enter_graceful_shutdown()
        # Both faces refuse new requests and drain in-flight ones at the same time.
        draining = [self.server.stop(self.settings.grace if grace is None else grace)]
        if self.http is not None:
            draining.append(self.http.stop())
        await asyncio.gather(*draining)
        await self.runtime.close()
        if self._metrics_http is not None:
            close_metrics(self._metrics_http)


async def start(settings: Settings, progress: Progress = _log) -> Sidecar:
    """Bind both ports, load the models, start serving; health turns SERVING once models
    are warm and the engine (if any) answers. A port that cannot be bound raises
    :class:`~.binding.StartError` at once, not after minutes of model loading; what had
    started by then is stopped again. While the models load, the gRPC port takes
    connections but answers nothing yet (a health probe waits, then times out)."""
    async with contextlib.AsyncExitStack() as undo:
        metrics = Metrics()
        http = serve_metrics(metrics, settings)
        if http is not None:
            undo.callback(close_metrics, http[0])
        face = await bind_http(settings, metrics)
        if face is not None:
            undo.push_async_callback(face.stop)
        server = _new_server(settings)
        # A server the loop never stops is shut down from __del__ on a closed loop.
        undo.push_async_callback(server.stop, None)
        credentials = _credentials(settings)
        port = bind_grpc(server, settings, credentials)
        runtime = await asyncio.to_thread(load_runtime, settings, metrics, progress)
        undo.push_async_callback(runtime.close)
        undo.push_async_callback(server.stop, None)  # stop serving before the runtime closes
        health = _add_services(server, runtime)
        for name in (OVERALL, *ENCODE_SERVICES, *ENGINE_SERVICES):
            await health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.start()
        sidecar = Sidecar(server, port, runtime, health, settings, http=face)
        if face is not None:
            face.attach(runtime, sidecar.serving)
        if http is not None:
            sidecar._metrics_http, sidecar.metrics_port = http
        runtime.start(sidecar.publish_health)
        await sidecar.refresh_health()
        if runtime.engine.configured:
            sidecar._watcher = asyncio.get_running_loop().create_task(sidecar._watch_engine())
        log.info("%s", _serving_line(sidecar, credentials is not None))
        undo.pop_all()  # started: the sidecar owns all of it now
    return sidecar


def _serving_line(sidecar: Sidecar, tls: bool) -> str:
    """Where to reach the sidecar: the gRPC and /metrics addresses, with the bound ports."""
    settings = sidecar.settings
    scheme = ("mutual TLS" if settings.tls_client_ca else "TLS") if tls else "plaintext"
    auth = ", bearer token required" if settings.auth_token or settings.auth_token_file else ""
    metrics = (
        f"metrics on http://{_host(settings.metrics_host)}:{sidecar.metrics_port}/metrics"
        if sidecar.metrics_port is not None
        else "metrics off"
    )
    http = (
        f"; HTTP/JSON on {'https' if tls else 'http'}://{_host(settings.http_host)}:{sidecar.http_port}"
        if sidecar.http_port is not None
        else ""
    )
    return (
        f"serving tandem.v1 on {_host(settings.host)}:{sidecar.port} ({scheme}{auth}); "
        f"{metrics}{http}"
    )


def _host(host: str) -> str:
    """``host`` as it goes before ``:port`` (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _new_server(settings: Settings) -> aio.Server:
    """The gRPC server, not bound and without services yet."""
    token = settings.token()
    limit = settings.max_message_bytes
    return aio.server(
        interceptors=[BearerAuth(token)] if token else None,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            # gRPC sets SO_REUSEPORT by default: a second sidecar on this port would start
            # and take part of the calls meant for the first. Refuse to share the port.
            ("grpc.so_reuseport", 0),
        ],
    )


def _add_services(server: aio.Server, runtime: Runtime) -> HealthServicer:
    """Every servicer, health and reflection, on ``server`` (before it starts)."""
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
    return health


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    log.info("settings: %s", settings.redacted())
    sidecar = await start(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        # Only now: whoever waits for the file may send SIGTERM as soon as it is there.
        _write_port_file(settings, sidecar.port)
        await stopping.wait()
        log.info("shutting down: refusing new requests, %.0f s for in-flight ones", settings.grace)
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await sidecar.stop()
    log.info("stopped")


def _write_port_file(settings: Settings, port: int) -> None:
    if settings.port_file is None:
        return
    try:
        settings.port_file.write_text(f"{port}\n")
    except OSError as err:
        raise StartError(
            f"--port-file {settings.port_file} cannot be written ({err.strerror or err}): "
            "give a path in a folder this user may write to"
        ) from None

"""The aiohttp application, its middleware and its life cycle.

aiohttp runs on asyncio, so the HTTP face lives in grpc.aio's own event loop: a
route awaits the same batchers and servicers a gRPC call does, with no thread
hop or second loop. The port is bound before the models load (a port in use
stops ``tandem serve`` at once); until they are loaded every route but
``/health`` and ``/metrics`` answers 503.
"""

from __future__ import annotations

import hmac
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..binding import StartError, why_not_bound
from ..encode_service import InfoServicer
from ..errors import NotReady
from ..metrics import Metrics
from ..runtime import Runtime
from ..search_service import RewriteServicer, SearchServicer
from ..settings import Settings
from . import embeddings, search
from .bodies import json_object
from .problems import HTTP_ONLY, HttpProblem, body, problem_for

log = logging.getLogger("tandem.server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = Callable[["Loaded", Mapping[str, Any], web.Request], Awaitable[Any]]
OPEN_PATHS = ("/health", "/metrics")  # probes and scrapers send no token
TIMEOUT_HEADER = "X-Request-Timeout"  # seconds the caller will wait, as gRPC's deadline
BODY_LIMIT = web.AppKey("body_limit", int)


@dataclass(frozen=True)
class Loaded:
    """What the routes need once the models are loaded."""

    runtime: Runtime
    info: InfoServicer
    searcher: SearchServicer
    rewriter: RewriteServicer


@dataclass
class HttpFace:
    """The bound HTTP/JSON port; routes answer once :meth:`attach` gives them a runtime."""

    runner: web.AppRunner
    port: int
    metrics: Metrics
    loaded: Loaded | None = None
    serving: Callable[[], bool] = field(default=lambda: False)

    def attach(self, runtime: Runtime, serving: Callable[[], bool]) -> None:
        self.loaded = Loaded(
            runtime, InfoServicer(runtime), SearchServicer(runtime), RewriteServicer(runtime)
        )
        self.serving = serving

    async def stop(self) -> None:
        """Stop listening; in-flight requests get ``--grace`` seconds."""
        await self.runner.cleanup()


def _deadline(request: web.Request) -> Callable[[], float | None]:
    raw = request.headers.get(TIMEOUT_HEADER)
    if raw is None:
        return lambda: None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise HttpProblem(
            400, "INVALID_ARGUMENT", f"{TIMEOUT_HEADER} must be a positive number of seconds"
        )
    ends = time.monotonic() + seconds
    return lambda: ends - time.monotonic()


async def _search(loaded: Loaded, payload: Mapping[str, Any], request: web.Request) -> Any:
    return await search.search(loaded.searcher, payload, _deadline(request))


async def _rewrite(loaded: Loaded, payload: Mapping[str, Any], request: web.Request) -> Any:
    return await search.rewrite(loaded.rewriter, payload)


def _encoder(fn: Callable[[Runtime, Mapping[str, Any]], Awaitable[Any]]) -> Route:
    async def route(loaded: Loaded, payload: Mapping[str, Any], request: web.Request) -> Any:
        return await fn(loaded.runtime, payload)

    return route


# path: (the body's allowed fields, the route)
POST_ROUTES: dict[str, tuple[tuple[str, ...], Route]] = {
    "/embed": (embeddings.TEI_EMBED, _encoder(embeddings.tei_embed)),
    "/embed_sparse": (embeddings.TEI_SPARSE, _encoder(embeddings.tei_embed_sparse)),
    "/v1/embeddings": (embeddings.OPENAI, _encoder(embeddings.openai_embeddings)),
    "/v1/search": (search.FIELDS, _search),
    "/v1/rewrite": (search.FIELDS, _rewrite),
}


def _problem_response(problem: HttpProblem) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if problem.http == 401 else None
    return web.json_response(body(problem), status=problem.http, headers=headers)


def _auth(token: str | None) -> Any:
    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is None or request.path in OPEN_PATHS:
            return await handler(request)
        sent = request.headers.get("Authorization", "")
        if not sent:
            message = "missing Authorization header: send 'Authorization: Bearer <token>'"
            return _problem_response(HttpProblem(401, "UNAUTHENTICATED", message))
        if not hmac.compare_digest(sent.encode(), expected):
            return _problem_response(HttpProblem(401, "UNAUTHENTICATED", "invalid bearer token"))
        return await handler(request)

    return auth


def _errors(metrics: Metrics) -> Any:
    """Every failure as a JSON error body; every request counted in the metrics, labelled
    ``HTTP <path>`` with the gRPC status name (or the HTTP-only one)."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        label = f"HTTP {request.path}" if request.path in ROUTES else "HTTP other"
        status = "OK"
        try:
            return await handler(request)
        except web.HTTPException as err:  # aiohttp's own: 404, 405, 413 and the like
            if err.status < 400:
                raise
            status = HTTP_ONLY.get(err.status, "UNKNOWN")
            message = _http_message(err, request)
            return _problem_response(HttpProblem(err.status, status, message))
        except Exception as err:
            problem = problem_for(err, label)
            status = problem.status
            return _problem_response(problem)
        finally:
            metrics.request(label, status, time.perf_counter() - started)

    return errors


def _http_message(err: web.HTTPException, request: web.Request) -> str:
    if err.status == 404:
        return f"no route {request.path}: see docs/http.md for the routes"
    if err.status == 405:
        return f"{request.path} does not take {request.method}"
    if err.status == 413:
        return f"the body is larger than {request.app[BODY_LIMIT]:,} bytes (--max-message-bytes)"
    return err.reason


ROUTES = (*POST_ROUTES, "/health", "/info", "/metrics")


def _post(
    face: Callable[[], HttpFace], path: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of one POST route: models loaded, body read and checked, route run."""
    allowed, route = POST_ROUTES[path]

    async def handle(request: web.Request) -> web.Response:
        loaded = _require(face())
        payload = await json_object(request, allowed)
        return web.json_response(await route(loaded, payload, request))

    return handle


def _require(face: HttpFace) -> Loaded:
    if face.loaded is None:
        raise NotReady("the models are still loading: retry in a few seconds")
    return face.loaded


def application(face_ref: list[HttpFace], settings: Settings, metrics: Metrics) -> web.Application:
    limit = settings.max_message_bytes
    app = web.Application(
        client_max_size=limit, middlewares=[_errors(metrics), _auth(settings.token())]
    )
    app[BODY_LIMIT] = limit

    def face() -> HttpFace:
        return face_ref[0]

    async def health(request: web.Request) -> web.Response:
        serving = face().serving()
        return web.json_response(
            {"status": "SERVING" if serving else "NOT_SERVING"}, status=200 if serving else 503
        )

    async def info(request: web.Request) -> web.Response:
        answer = _require(face()).info.info()
        return web.json_response(MessageToDict(answer, preserving_proto_field_name=True))

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/health", health)
    app.router.add_get("/info", info)
    app.router.add_get("/metrics", scrape)
    for path in POST_ROUTES:
        app.router.add_post(path, _post(face, path))
    return app


def _ssl(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca is not None:
        context.load_verify_locations(settings.tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def bind_http(settings: Settings, metrics: Metrics) -> HttpFace | None:
    """Bind ``--http-port`` (``None`` when it is -1); its routes wait for :meth:`attach`."""
    if settings.http_port < 0:
        return None
    ref: list[HttpFace] = []
    app = application(ref, settings, metrics)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=settings.grace
    )
    await runner.setup()
    site = web.TCPSite(
        runner, settings.http_host, settings.http_port, ssl_context=_ssl(settings), reuse_port=False
    )
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        raise StartError(
            f"HTTP port {settings.http_port} on {settings.http_host} {why_not_bound(err)}: "
            "choose another with --http-port or TANDEM_HTTP_PORT (0 takes a free one, -1 "
            "turns the HTTP face off)"
        ) from None
    port = int(runner.addresses[0][1])
    face = HttpFace(runner, port, metrics)
    ref.append(face)
    return face

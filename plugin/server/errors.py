"""One table from errors to gRPC status codes, and the wrappers that apply it.

Servicers raise plain exceptions; :func:`unary` and :func:`streaming` turn them
into a status with the exception's message, count the RPC in the metrics, and
log anything unexpected with its traceback before answering ``INTERNAL``
(whose message never carries internals).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc
from grpc import aio

from tandem.plugin.engines.errors import (
    CapabilityError,
    EngineAuthError,
    EngineBadRequest,
    EngineOverloaded,
    EngineServerError,
    EngineUnavailable,
    IndexNotFound,
)
from tandem.plugin.enrich.plan import EnrichRefused
from tandem.plugin.index.names import BadIndexName, IndexNotAllowed
from tandem.plugin.index.spec import SpecError
from tandem.plugin.search.extension import DslError
from tandem.plugin.search.policy import QueryNotAllowed

from .batcher import BatcherClosed, BatcherRestarting, QueueFull
from .metrics import Metrics

log = logging.getLogger("tandem.server")

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class NotReady(Exception):
    """What the request needs is not there yet (no engine, models still loading)."""


class ModelMissing(Exception):
    """The request needs a model this sidecar was started without."""


class DeadlineExceeded(Exception):
    """The caller's deadline ran out while the engine was still working."""


class TooLarge(Exception):
    """The request is over a size limit; the client should send less at once."""


class InvalidRequest(ValueError):
    """A request field the caller must fix; answered ``INVALID_ARGUMENT``.

    Only validation raises it (or :func:`validating`, around the code that checks a
    request): a plain ``ValueError`` from anywhere else is a bug, answered ``INTERNAL``
    and logged with its traceback.
    """


@contextmanager
def validating() -> Iterator[None]:
    """Around request checks: a ``ValueError`` raised inside is the caller's to fix."""
    try:
        yield
    except ValueError as err:
        if status_for(err) is grpc.StatusCode.INTERNAL:
            raise InvalidRequest(str(err)) from err
        raise


# First match wins, so subclasses come before their bases.
STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (QueueFull, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (EngineOverloaded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (BatcherClosed, grpc.StatusCode.UNAVAILABLE),
    (BatcherRestarting, grpc.StatusCode.UNAVAILABLE),
    (NotReady, grpc.StatusCode.UNAVAILABLE),
    (EngineUnavailable, grpc.StatusCode.UNAVAILABLE),
    (EngineServerError, grpc.StatusCode.UNAVAILABLE),
    (IndexNotFound, grpc.StatusCode.NOT_FOUND),
    (EngineAuthError, grpc.StatusCode.FAILED_PRECONDITION),
    (CapabilityError, grpc.StatusCode.FAILED_PRECONDITION),
    (ModelMissing, grpc.StatusCode.FAILED_PRECONDITION),
    # enrich's checks of an index (missing fields, write blocks, a field of another type).
    (EnrichRefused, grpc.StatusCode.FAILED_PRECONDITION),
    (IndexNotAllowed, grpc.StatusCode.PERMISSION_DENIED),
    (BadIndexName, grpc.StatusCode.INVALID_ARGUMENT),
    (EngineBadRequest, grpc.StatusCode.INVALID_ARGUMENT),
    # Validation: request fields, index specs, the tandem clause, the query policy.
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (SpecError, grpc.StatusCode.INVALID_ARGUMENT),
    (DslError, grpc.StatusCode.INVALID_ARGUMENT),
    (QueryNotAllowed, grpc.StatusCode.INVALID_ARGUMENT),
)

_ALREADY_EXISTS = ("resource_already_exists_exception",)


def status_for(err: BaseException) -> grpc.StatusCode:
    """The status code the table gives ``err`` (``INTERNAL`` when nothing matches)."""
    if isinstance(err, EngineBadRequest) and err.error_type in _ALREADY_EXISTS:
        return grpc.StatusCode.ALREADY_EXISTS
    for kind, code in STATUS_TABLE:
        if isinstance(err, kind):
            return code
    return grpc.StatusCode.INTERNAL


def describe(err: BaseException, method: str) -> tuple[grpc.StatusCode, str]:
    """Status and message for ``err``; unexpected errors are logged with a traceback."""
    code = status_for(err)
    if code is grpc.StatusCode.INTERNAL:
        log.error("%s failed unexpectedly", method, exc_info=err)
        return code, f"{method}: internal error ({type(err).__name__}); see the sidecar's log"
    return code, str(err) or type(err).__name__


class Servicer:
    """Base of every servicer: holds the metrics the wrappers report to."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics


S = TypeVar("S", bound=Servicer)
Handler = Callable[[S, Req, aio.ServicerContext[Any, Any]], Awaitable[Resp]]
StreamHandler = Callable[[S, Req, aio.ServicerContext[Any, Any]], AsyncIterator[Resp]]


def unary(method: str) -> Callable[[Handler[S, Req, Resp]], Handler[S, Req, Resp]]:
    """Wrap a handler that returns one response (its request may be a stream)."""

    def decorate(fn: Handler[S, Req, Resp]) -> Handler[S, Req, Resp]:
        @functools.wraps(fn)
        async def wrapper(self: S, request: Req, context: aio.ServicerContext[Any, Any]) -> Resp:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await fn(self, request, context)
            except asyncio.CancelledError:  # the client went away or its deadline passed
                code = grpc.StatusCode.CANCELLED
                raise
            except aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception as err:
                code, message = describe(err, method)
                await context.abort(code, message)
                raise  # unreachable: abort raises
            finally:
                self.metrics.request(method, code.name, time.perf_counter() - started)

        return wrapper

    return decorate


def streaming(
    method: str,
) -> Callable[[StreamHandler[S, Req, Resp]], StreamHandler[S, Req, Resp]]:
    """Wrap a handler that yields responses."""

    def decorate(fn: StreamHandler[S, Req, Resp]) -> StreamHandler[S, Req, Resp]:
        @functools.wraps(fn)
        async def wrapper(
            self: S, request: Req, context: aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Resp]:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                async for response in fn(self, request, context):
                    yield response
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except aio.AbortError:
                code = grpc.StatusCode.UNKNOWN
                raise
            except Exception as err:
                code, message = describe(err, method)
                await context.abort(code, message)
            finally:
                self.metrics.request(method, code.name, time.perf_counter() - started)

        return wrapper

    return decorate

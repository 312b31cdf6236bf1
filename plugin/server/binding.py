"""Bind the sidecar's two ports; a port that cannot be had names the flag that moves it.

Both raise :class:`StartError`, which ``tandem serve`` prints as one line (exit
code 2) instead of a traceback.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from .metrics import Metrics
from .settings import Settings

if TYPE_CHECKING:
    import grpc
    from grpc import aio


class StartError(Exception):
    """The sidecar cannot start with these settings; the message says what to change."""


def why_not_bound(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno == errno.EADDRINUSE:
        return "is in use (another sidecar on this host?)"
    detail = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return f"cannot be bound ({detail})"


def serve_metrics(metrics: Metrics, settings: Settings) -> tuple[Any, int] | None:
    """Start ``/metrics`` (HTTP server, bound port), or ``None`` when metrics are off."""
    if settings.metrics_port < 0:
        return None
    try:
        return metrics.serve(settings.metrics_host, settings.metrics_port)
    except OSError as err:
        where = f"metrics port {settings.metrics_port} on {settings.metrics_host}"
        raise StartError(
            f"{where} {why_not_bound(err)}: "
            "choose another with --metrics-port or TANDEM_METRICS_PORT "
            "(0 takes a free one, -1 turns metrics off)"
        ) from None


def close_metrics(http: Any) -> None:
    http.shutdown()
    http.server_close()


def bind_grpc(
    server: aio.Server, settings: Settings, credentials: grpc.ServerCredentials | None
) -> int:
    """Add the listening port to ``server``; the port bound (useful when 0 was asked)."""
    address = f"{settings.host}:{settings.port}"
    try:
        port = (
            server.add_secure_port(address, credentials)
            if credentials is not None
            else server.add_insecure_port(address)
        )
    except RuntimeError:  # what grpc raises when nothing could be bound
        port = 0
    if port == 0:
        raise StartError(
            f"gRPC port {settings.port} on {settings.host} cannot be bound (in use by another "
            "process, or not an address of this host): choose another with --port or "
            "TANDEM_PORT (0 takes a free one), or the address with --host or TANDEM_HOST"
        )
    return port

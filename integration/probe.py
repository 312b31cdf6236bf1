"""Wait for a launched engine's cluster health, and check ports.

Which engine answers at a URL is the core's question
(:mod:`tandem.plugin.engines.identify`); this module adds what only the
launcher needs.
"""

from __future__ import annotations

import socket
import time
import urllib.error
from collections.abc import Callable

from tandem.plugin.engines.identify import (
    EngineIdentity,
    NotAnEngine,
    get_json,
    identify,
    redact,
    split_credentials,
)

from .errors import EngineStartError

__all__ = [
    "EngineIdentity",
    "NotAnEngine",
    "cluster_health",
    "identify",
    "plugin_names",
    "port_is_free",
    "redact",
    "split_credentials",
    "wait_healthy",
]


def cluster_health(url: str, timeout: float = 3.0) -> str | None:
    """The cluster's health colour, or ``None`` when the engine does not answer yet."""
    try:
        status, _, payload = get_json(url, "/_cluster/health", timeout)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    if status not in (200, 408) or not isinstance(payload, dict):
        return None
    colour = payload.get("status")
    return str(colour) if colour else None


def plugin_names(url: str, timeout: float = 3.0) -> list[str] | None:
    """The plugins the engine reports in ``_cat/plugins`` (not its modules), sorted;
    ``None`` when it does not answer."""
    try:
        status, _, payload = get_json(url, "/_cat/plugins?format=json&h=component", timeout)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    if status != 200 or not isinstance(payload, list):
        return None
    rows = [row for row in payload if isinstance(row, dict) and "component" in row]
    return sorted({str(row["component"]) for row in rows})


def wait_healthy(
    url: str,
    timeout: float,
    still_running: Callable[[], bool],
    describe_failure: Callable[[str], str],
    interval: float = 0.5,
) -> str:
    """Poll until the cluster is yellow or green.

    Fails early when ``still_running`` says the process has gone, instead of
    waiting out the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        colour = cluster_health(url)
        if colour in ("yellow", "green"):
            return colour
        if not still_running():
            raise EngineStartError(describe_failure("exited during start"))
        if time.monotonic() >= deadline:
            raise EngineStartError(describe_failure(f"was not healthy after {timeout:.0f}s"))
        time.sleep(interval)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True

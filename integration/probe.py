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
from typing import Any

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
    "health",
    "identify",
    "node_count",
    "plugin_names",
    "port_is_free",
    "redact",
    "split_credentials",
    "wait_healthy",
]


def health(url: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """``_cluster/health`` (status, number_of_nodes, ...), or ``None`` when the engine
    does not answer yet."""
    try:
        status, _, payload = get_json(url, "/_cluster/health", timeout)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    if status not in (200, 408) or not isinstance(payload, dict):
        return None
    return payload


def cluster_health(url: str, timeout: float = 3.0) -> str | None:
    """The cluster's health colour, or ``None`` when the engine does not answer yet."""
    colour = (health(url, timeout) or {}).get("status")
    return str(colour) if colour else None


def node_count(url: str, timeout: float = 3.0) -> int | None:
    """How many nodes the cluster at ``url`` has, or ``None`` when it does not answer."""
    found = health(url, timeout)
    return int(found.get("number_of_nodes", 0)) if found else None


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
    nodes: int = 1,
) -> str:
    """Poll until the cluster is yellow or green, with ``nodes`` nodes joined.

    Fails early when ``still_running`` says a process has gone, instead of
    waiting out the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = health(url) or {}
        colour = found.get("status")
        if colour in ("yellow", "green") and int(found.get("number_of_nodes", 0)) >= nodes:
            return str(colour)
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

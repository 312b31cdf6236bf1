"""Ask a URL which engine answers there, and wait for cluster health.

Uses only the standard library so the launcher works before any engine
client is configured.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tandem.integration.errors import EngineStartError
from tandem.integration.specs import EngineKind


@dataclass(frozen=True)
class EngineIdentity:
    kind: EngineKind
    version: str
    url: str


class NotAnEngine(Exception):
    """Something answers on the port, but it is not OpenSearch or Elasticsearch."""


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    headers: dict[str, str] = {}
    if parts.username:
        user, password = unquote(parts.username), unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts).rstrip("/"), headers


def redact(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _get(url: str, path: str, timeout: float) -> tuple[int, dict[str, str], Any]:
    base, headers = _split_credentials(url)
    request = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status = response.status
            resp_headers = {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as err:
        body = err.read()
        status = err.code
        resp_headers = {k.lower(): v for k, v in err.headers.items()}
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    return status, resp_headers, payload


def identify(url: str, timeout: float = 3.0) -> EngineIdentity | None:
    """Which engine answers at ``url``; ``None`` if nothing listens there.

    Raises :class:`NotAnEngine` when something else answers.
    """
    try:
        status, headers, payload = _get(url, "/", timeout)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    except OSError as err:
        raise NotAnEngine(str(err)) from err
    if status == 200 and isinstance(payload, dict) and isinstance(payload.get("version"), dict):
        version = payload["version"]
        kind = (
            EngineKind.OPENSEARCH
            if version.get("distribution") == "opensearch"
            else EngineKind.ELASTICSEARCH
        )
        return EngineIdentity(kind, str(version.get("number")), url)
    if headers.get("x-elastic-product") == "Elasticsearch":
        # The integ-test zip has no rest-root module, so GET / is refused: ask the node.
        _, _, nodes = _get(url, "/_nodes/_local?filter_path=nodes.*.version", timeout)
        versions = [n.get("version") for n in (nodes or {}).get("nodes", {}).values()]
        if versions:
            return EngineIdentity(EngineKind.ELASTICSEARCH, str(versions[0]), url)
    raise NotAnEngine(
        f"HTTP {status} from {redact(url)} is not an OpenSearch or Elasticsearch answer"
    )


def cluster_health(url: str, timeout: float = 3.0) -> str | None:
    """The cluster's health colour, or ``None`` when the engine does not answer yet."""
    try:
        status, _, payload = _get(url, "/_cluster/health", timeout)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    if status not in (200, 408) or not isinstance(payload, dict):
        return None
    colour = payload.get("status")
    return str(colour) if colour else None


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

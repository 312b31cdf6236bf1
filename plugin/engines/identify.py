"""Ask a URL which engine answers there, and redact credentials for messages.

Standard library only, so it works before any engine client is configured: the
sidecar's engine watcher and the launcher both use it.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .kinds import EngineKind


@dataclass(frozen=True)
class EngineIdentity:
    kind: EngineKind
    version: str
    url: str


class NotAnEngine(Exception):
    """Something answers on the port, but it is not OpenSearch or Elasticsearch."""


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
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


def get_json(url: str, path: str, timeout: float) -> tuple[int, dict[str, str], Any]:
    base, headers = split_credentials(url)
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
        status, headers, payload = get_json(url, "/", timeout)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    except http.client.HTTPException as err:  # an engine's transport port, say
        raise NotAnEngine(f"{redact(url)} does not speak HTTP ({err!r})") from None
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
        _, _, nodes = get_json(url, "/_nodes/_local?filter_path=nodes.*.version", timeout)
        versions = [n.get("version") for n in (nodes or {}).get("nodes", {}).values()]
        if versions:
            return EngineIdentity(EngineKind.ELASTICSEARCH, str(versions[0]), url)
    raise NotAnEngine(
        f"HTTP {status} from {redact(url)} is not an OpenSearch or Elasticsearch answer"
    )

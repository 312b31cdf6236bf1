"""Raw HTTP calls to a sidecar's HTTP/JSON face, with the standard library."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from tandem.plugin.server.embedded import EmbeddedSidecar


def base(sidecar: EmbeddedSidecar, scheme: str = "http") -> str:
    port = sidecar.sidecar.http_port
    assert port is not None, "start the sidecar with http_port=0"
    return f"{scheme}://127.0.0.1:{port}"


def call(
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    method: str | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    """``(status, parsed JSON body)`` of one request; a POST when there is a body."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Content-Type": content_type, **(headers or {})} if data is not None else headers or {}
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120, context=context) as response:
            return response.status, _parse(response.read(), response.headers)
    except urllib.error.HTTPError as err:
        return err.code, _parse(err.read(), err.headers)


def _parse(payload: bytes, headers: Any) -> Any:
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(payload)
    return payload.decode()


def error(status_body: tuple[int, Any]) -> tuple[int, str, str]:
    """``(HTTP status, gRPC status name, message)`` of an error answer, its shape checked."""
    status, payload = status_body
    assert set(payload) == {"error"}, payload
    detail = payload["error"]
    assert set(detail) == {"code", "status", "message"}, detail
    assert detail["code"] == status
    return status, detail["status"], detail["message"]

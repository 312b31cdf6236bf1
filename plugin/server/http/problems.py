"""Errors as JSON: the gRPC status table, then the standard gRPC-to-HTTP mapping.

Every error body has one shape, that of Google's JSON APIs (``google.rpc.Status``)::

    {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "..."}}

``status`` is the code the same failure gets over gRPC, so both faces of the
sidecar report one failure the same way.
"""

from __future__ import annotations

from typing import Any

import grpc

from ..errors import TooLarge, describe

# google.rpc.Code's HTTP mapping (googleapis/google/rpc/code.proto).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
# HTTP-only failures (no gRPC twin): what their body's ``status`` says.
HTTP_ONLY = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class HttpProblem(Exception):
    """A failure answered with ``http`` and a message the caller can act on."""

    def __init__(self, http: int, status: str, message: str) -> None:
        super().__init__(message)
        self.http = http
        self.status = status
        self.message = message


def bad_request(message: str) -> HttpProblem:
    """The caller's request is wrong; the message says how."""
    return HttpProblem(400, grpc.StatusCode.INVALID_ARGUMENT.name, message)


def problem_for(err: BaseException, route: str) -> HttpProblem:
    """``err`` through the gRPC table; a request over a size limit is 413, not 429."""
    if isinstance(err, HttpProblem):
        return err
    code, message = describe(err, route)
    http = 413 if isinstance(err, TooLarge) else HTTP_STATUS[code]
    return HttpProblem(http, code.name, message)


def body(problem: HttpProblem) -> dict[str, Any]:
    return {"error": {"code": problem.http, "status": problem.status, "message": problem.message}}

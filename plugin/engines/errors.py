"""One exception vocabulary for both engines and every transport.

Adapters translate opensearch-py and elasticsearch-py exceptions into these,
so the bulk writer, rewriter and servicers never import an engine client.
"""

from __future__ import annotations


class EngineRequestError(RuntimeError):
    """A request to the engine failed. ``status`` is the HTTP status, if there was one."""

    def __init__(self, message: str, status: int | None = None, error_type: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again later may succeed."""
        return False


class EngineUnavailable(EngineRequestError):
    """The engine could not be reached (connection refused, reset, or timed out)."""

    @property
    def retryable(self) -> bool:
        return True


class EngineOverloaded(EngineRequestError):
    """HTTP 429: the engine asks us to slow down (queues full, circuit breakers)."""

    @property
    def retryable(self) -> bool:
        return True


class EngineServerError(EngineRequestError):
    """HTTP 5xx from the engine."""

    @property
    def retryable(self) -> bool:
        return True


class EngineBadRequest(EngineRequestError):
    """HTTP 400: the engine refused the request as malformed (mapping, query DSL)."""


class IndexNotFound(EngineRequestError):
    """HTTP 404 for an index."""


class EngineAuthError(EngineRequestError):
    """HTTP 401 or 403: check the credentials Tandem was given."""


class CapabilityError(EngineRequestError):
    """The engine lacks what the request needs (a field type, a query, a plugin)."""


def error_for_status(
    status: int | None, message: str, error_type: str | None = None
) -> EngineRequestError:
    """The vocabulary's class for an HTTP status."""
    if status is None:
        return EngineUnavailable(message, status, error_type)
    if status == 429:
        return EngineOverloaded(message, status, error_type)
    if status >= 500:
        return EngineServerError(message, status, error_type)
    if status == 404:
        return IndexNotFound(message, status, error_type)
    if status in (401, 403):
        return EngineAuthError(message, status, error_type)
    return EngineBadRequest(message, status, error_type)

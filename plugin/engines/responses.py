"""Pure helpers both adapters share: request bodies, responses, errors, URLs.

The two clients differ in how they are called and in their exception classes,
but the engines answer in the same JSON. Everything that reads or builds that
JSON lives here, free of I/O, so it is unit-tested on recorded responses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from .base import BulkItemResult, Completeness, Json
from .errors import CapabilityError, EngineRequestError, error_for_status

T = TypeVar("T")

# A client module's mapping of its own exceptions: (error, what, url) -> ours,
# or None for exceptions that are not the client's.
Translate = Callable[[Exception, str, str], "EngineRequestError | None"]

BULK_ACTIONS = ("index", "create", "update", "delete")
MGET_CHUNK = 1000

# Errors the engines report inside a 200 response (mget docs), by their status.
_STATUS_OF_TYPE = {"index_not_found_exception": 404}
# Shard failure lines kept per search; engines group identical causes, so more is noise.
MAX_SHARD_FAILURES = 10


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without ``user:pass@``, and the credentials for basic auth.

    Both clients take credentials as an argument; leaving them in the URL
    would put them into the clients' logs and error messages.
    """
    parts = urlsplit(url)
    if parts.username is None:
        return url.rstrip("/"), None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    bare = urlunsplit(parts._replace(netloc=netloc)).rstrip("/")
    # userinfo is percent-encoded in a URL (a password may hold '@' or ':')
    return bare, (unquote(parts.username), unquote(parts.password or ""))


def single_mapping(name: str, response: Mapping[str, Any]) -> Json:
    """The ``mappings`` of the one index a GET _mapping for ``name`` answered with."""
    if len(response) != 1:
        raise CapabilityError(
            f"{name} names {len(response)} indices ({', '.join(sorted(response))}); "
            "name one index, or an alias of one"
        )
    (entry,) = response.values()
    mappings: Json = dict(entry.get("mappings", {}))
    return mappings


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def error_from_body(
    status: int | None, body: Any, what: str, url: str, fallback: str = ""
) -> EngineRequestError:
    """The vocabulary's exception for an engine's error answer.

    ``body`` is the engine's JSON (``{"error": {"type", "reason"}}`` or
    ``{"error": "text"}``) or anything else; ``fallback`` describes the failure
    when the body says nothing (a connection error's text).
    """
    error_type, reason = _error_parts(body)
    detail = reason or fallback or "no details"
    prefix = f"{what} failed on {url}"
    if status is None:
        message = f"{prefix}: engine not reachable ({detail}); check that it runs there"
    else:
        label = f"{error_type}: " if error_type else ""
        message = f"{prefix}: HTTP {status} {label}{detail}"
    return error_for_status(status, message, error_type)


@contextmanager
def engine_errors(translate: Translate, what: str, url: str) -> Iterator[None]:
    """Re-raise a client's exceptions inside the block as the vocabulary's.

    ``what`` names the operation for the message ("bulk", "search in idx").
    """
    try:
        yield
    except Exception as err:
        mapped = translate(err, what, url)
        if mapped is None:
            raise
        raise mapped from err


def _error_parts(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error")
    if isinstance(error, Mapping):
        error_type = error.get("type")
        reason = error.get("reason")
        return (
            str(error_type) if error_type is not None else None,
            str(reason) if reason is not None else None,
        )
    if error is not None:
        return None, str(error)
    return None, None


def bulk_results(response: Mapping[str, Any]) -> list[BulkItemResult]:
    """One :class:`BulkItemResult` per item of a ``_bulk`` response, in order."""
    results = []
    for item in response.get("items", []):
        action = next((item[a] for a in BULK_ACTIONS if a in item), None)
        if action is None:
            raise EngineRequestError(f"bulk response item without a known action: {item!r}")
        error_type, reason = _error_parts(action)
        results.append(
            BulkItemResult(
                id=str(action.get("_id") or ""),
                status=int(action["status"]),
                error_type=error_type,
                reason=reason,
            )
        )
    return results


def found_ids(response: Mapping[str, Any], what: str, url: str) -> set[str]:
    """The ids an ``_mget`` response found.

    A document with an ``error`` (a missing index is reported per document
    with HTTP 200) raises that error instead of reading as "not stored".
    """
    found = set()
    for doc in response.get("docs", []):
        if "error" in doc:
            error_type, _ = _error_parts(doc)
            status = _STATUS_OF_TYPE.get(error_type or "", 400)
            raise error_from_body(status, doc, what, url)
        if doc.get("found"):
            found.add(str(doc["_id"]))
    return found


def msearch_lines(
    searches: Sequence[tuple[str, Mapping[str, Any]]], preference: str | None = None
) -> list[Mapping[str, Any]]:
    """The NDJSON lines of one ``_msearch``: a header naming the index (and the shard
    copies' ``preference``), then the body."""
    header: dict[str, Any] = {"preference": preference} if preference else {}
    lines: list[Mapping[str, Any]] = []
    for index, body in searches:
        lines.append({"index": index, **header})
        lines.append(body)
    return lines


def msearch_responses(response: Mapping[str, Any], expected: int) -> list[Json]:
    """The per-search responses of an ``_msearch``; failed searches keep their ``error``."""
    responses = [dict(r) for r in response.get("responses", [])]
    if len(responses) != expected:
        raise EngineRequestError(
            f"_msearch answered {len(responses)} searches, {expected} were sent"
        )
    return responses


def completeness(response: Mapping[str, Any], label: str = "") -> Completeness:
    """Whether a ``_search`` response (or an ``_msearch`` item) covers every shard in time.

    Reads ``timed_out`` and ``_shards.failed`` / ``_shards.failures``; each failure
    becomes ``"[label: ]index shard N: type: reason"``. A response that says
    nothing about its shards is taken as complete.
    """
    prefix = f"{label}: " if label else ""
    shards = response.get("_shards")
    shards = shards if isinstance(shards, Mapping) else {}
    lines = []
    for failure in shards.get("failures") or []:
        if not isinstance(failure, Mapping):
            continue
        error_type, reason = _error_parts({"error": failure.get("reason")})
        where = f"{failure.get('index', '?')} shard {failure.get('shard', '?')}"
        detail = ": ".join(part for part in (error_type, reason) if part) or "no reason given"
        lines.append(f"{prefix}{where}: {detail}")
    failed = shards.get("failed")
    if not lines and isinstance(failed, int) and failed > 0:
        total = shards.get("total", "?")
        lines.append(f"{prefix}{failed} of {total} shards failed (no reason given)")
    if len(lines) > MAX_SHARD_FAILURES:
        more = len(lines) - MAX_SHARD_FAILURES
        lines = [*lines[:MAX_SHARD_FAILURES], f"... and {more} more shard failures"]
    return Completeness(response.get("timed_out") is True, tuple(lines))

"""Bulk writes cut by count and bytes, retried with capped backoff, a result per document.

Only what the engine refused with 429 or 5xx is sent again, after capped
exponential backoff with full jitter; a whole request that fails the same way
(or cannot reach the engine) is retried as a whole. Anything else (a mapping
conflict, say) fails that document at once with the engine's reason. Ids are
the documents' own, so a resend overwrites instead of duplicating.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import EngineRequestError


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` sends at most; delays grow from ``base`` to ``cap`` seconds, jittered."""

    attempts: int = 8
    base: float = 0.25
    cap: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base < 0 or self.cap < self.base:
            raise ValueError("retry policy needs attempts >= 1 and 0 <= base <= cap")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``."""
        return rng.uniform(0.0, min(self.cap, self.base * (2**attempt)))


@dataclass(frozen=True)
class BulkOptions:
    max_docs: int = 500
    max_bytes: int = 5 * 1024 * 1024
    concurrency: int = 2
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.max_docs < 1 or self.max_bytes < 1024 or self.concurrency < 1:
            raise ValueError(
                "bulk options need max_docs >= 1, max_bytes >= 1 KiB, concurrency >= 1"
            )


@dataclass(frozen=True)
class DocResult:
    """What happened to one document."""

    id: str
    ok: bool
    status: int | None
    reason: str | None = None
    attempts: int = 1


@dataclass(frozen=True)
class Pending:
    """A document ready to send: its id, its source and the source's size in bytes.

    ``action`` is the bulk action line when it is not a plain ``index`` into the
    writer's index (enrich sends conditional partial ``update`` actions).
    """

    id: str
    source: Mapping[str, Any]
    size: int
    action: Mapping[str, Any] | None = None

    @classmethod
    def of(
        cls, doc_id: str, source: Mapping[str, Any], action: Mapping[str, Any] | None = None
    ) -> Pending:
        size = len(json.dumps(source, separators=(",", ":"))) + len(doc_id) + 40
        return cls(doc_id, source, size, action)


class ChunkBuffer:
    """Collects documents into requests of at most ``max_docs`` documents and ``max_bytes``.

    A single document larger than ``max_bytes`` goes alone rather than being dropped.
    """

    def __init__(self, max_docs: int, max_bytes: int) -> None:
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self._items: list[Pending] = []
        self._bytes = 0
        self._since = 0.0  # when the oldest buffered document came in (monotonic)

    def age(self) -> float:
        """Seconds the oldest buffered document has waited (0 when empty)."""
        return time.monotonic() - self._since if self._items else 0.0

    def add(self, item: Pending) -> list[Pending] | None:
        """Add ``item``; return the chunk it closed, if adding it would overflow."""
        full = None
        if self._items and (
            len(self._items) >= self.max_docs or self._bytes + item.size > self.max_bytes
        ):
            full = self.flush()
        if not self._items:
            self._since = time.monotonic()
        self._items.append(item)
        self._bytes += item.size
        return full

    def flush(self) -> list[Pending]:
        """Whatever is buffered (possibly nothing), emptying the buffer."""
        items, self._items, self._bytes = self._items, [], 0
        return items


class BulkWriter:
    """Sends chunks to one index and answers with a :class:`DocResult` per document."""

    def __init__(
        self,
        adapter: EngineAdapter,
        index: str,
        options: BulkOptions = BulkOptions(),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.adapter = adapter
        self.index = index
        self.options = options
        self._sleep = sleep
        self._rng = rng or random.Random()

    def _operations(self, items: list[Pending]) -> list[Mapping[str, Any]]:
        operations: list[Mapping[str, Any]] = []
        for item in items:
            operations.append(item.action or {"index": {"_index": self.index, "_id": item.id}})
            operations.append(item.source)
        return operations

    def send(self, items: list[Pending]) -> list[DocResult]:
        """Write ``items``; retry what may succeed later; return results in input order."""
        results: dict[str, DocResult] = {}
        waiting = list(items)
        attempts = self.options.retry.attempts
        last_reason = "not sent"
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.options.retry.delay(attempt - 1, self._rng))
            try:
                answers = self.adapter.bulk(self._operations(waiting))
            except EngineRequestError as err:
                last_reason = f"{type(err).__name__}: {err}"
                if not err.retryable:
                    for item in waiting:
                        results[item.id] = DocResult(
                            item.id, False, err.status, last_reason, attempt + 1
                        )
                    waiting = []
                    break
                continue
            retry: list[Pending] = []
            for item, answer in zip(waiting, answers, strict=True):
                if answer.ok:
                    results[item.id] = DocResult(item.id, True, answer.status, None, attempt + 1)
                elif answer.retryable:
                    retry.append(item)
                    last_reason = f"{answer.status} {answer.error_type}: {answer.reason}"
                else:
                    reason = f"{answer.error_type}: {answer.reason}"
                    results[item.id] = DocResult(item.id, False, answer.status, reason, attempt + 1)
            waiting = retry
            if not waiting:
                break
        for item in waiting:
            results[item.id] = DocResult(
                item.id, False, None, f"gave up after {attempts} attempts: {last_reason}", attempts
            )
        return [results[item.id] for item in items]

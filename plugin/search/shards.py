"""How many primary shards and documents an index has (or every index an alias or
pattern names), learnt per index and read again now and then.

``auto`` needs both on OpenSearch (see :func:`~.native.auto_skips_native`): native
fusion there depends on the sharding, so a multi-shard index is fused in the
sidecar, and its cost grows with the index far faster than the sidecar's, so a
large index is too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import EngineRequestError


@dataclass(frozen=True)
class IndexSize:
    """Primary shards, and documents in them (Lucene's: a nested passage counts)."""

    primaries: int
    docs: int


class IndexSizes:
    """A size is kept :attr:`KNOWN_SECONDS` (an alias may move to an index with other
    primaries, and documents come and go); an engine that does not say (no such
    index yet, no right to read index stats) is asked again after
    :attr:`FAILURE_SECONDS`, not on every query."""

    KNOWN_SECONDS = 300.0
    FAILURE_SECONDS = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._known: dict[str, tuple[IndexSize | None, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def of(self, adapter: EngineAdapter, index: str) -> IndexSize | None:
        """The size of ``index``; ``None`` when the engine does not say."""
        with self._lock:
            size, until = self._known.get(index, (None, 0.0))
            if self._clock() < until:
                return size
        size = self._read(adapter, index)
        keep = self.FAILURE_SECONDS if size is None else self.KNOWN_SECONDS
        with self._lock:
            self._known[index] = (size, self._clock() + keep)
        return size

    def primaries(self, adapter: EngineAdapter, index: str) -> int | None:
        size = self.of(adapter, index)
        return size.primaries if size is not None else None

    def docs(self, adapter: EngineAdapter, index: str) -> int | None:
        size = self.of(adapter, index)
        return size.docs if size is not None else None

    @staticmethod
    def _read(adapter: EngineAdapter, index: str) -> IndexSize | None:
        try:
            found = adapter.request(
                "GET",
                f"/_cat/indices/{index}",
                params={"h": "index,pri,docs.count", "format": "json"},
                what=f"reading the size of {index}",
            )
        except EngineRequestError:
            return None
        rows = found.get("answer")  # the adapters wrap a JSON array so
        if not isinstance(rows, list) or not rows:
            return None
        try:
            return IndexSize(
                sum(int(row["pri"]) for row in rows),
                # A closed index has no count: it holds nothing searchable.
                sum(int(row.get("docs.count") or 0) for row in rows),
            )
        except (KeyError, TypeError, ValueError):
            return None

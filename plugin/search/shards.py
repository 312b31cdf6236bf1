"""How many primary shards an index (or every index an alias or pattern names) has,
learnt per index and read again now and then.

``auto`` needs it on OpenSearch: native fusion there is shard-dependent (see
:func:`~.native.auto_skips_native`), so a multi-shard index is fused in the sidecar.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import EngineRequestError


class ShardCounts:
    """A count is kept :attr:`KNOWN_SECONDS` (an alias may move to an index with other
    primaries); an engine that does not say (no such index yet, no right to read
    settings) is asked again after :attr:`FAILURE_SECONDS`, not on every query."""

    KNOWN_SECONDS = 300.0
    FAILURE_SECONDS = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._known: dict[str, tuple[int | None, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def of(self, adapter: EngineAdapter, index: str) -> int | None:
        """The primaries behind ``index``; ``None`` when the engine does not say."""
        with self._lock:
            count, until = self._known.get(index, (None, 0.0))
            if self._clock() < until:
                return count
        count = self._read(adapter, index)
        keep = self.FAILURE_SECONDS if count is None else self.KNOWN_SECONDS
        with self._lock:
            self._known[index] = (count, self._clock() + keep)
        return count

    @staticmethod
    def _read(adapter: EngineAdapter, index: str) -> int | None:
        try:
            found = adapter.request(
                "GET",
                f"/{index}/_settings/index.number_of_shards",
                what=f"reading the shard count of {index}",
            )
        except EngineRequestError:
            return None
        counts = [
            int(entry.get("settings", {}).get("index", {}).get("number_of_shards", 1))
            for entry in found.values()
            if isinstance(entry, dict)
        ]
        return sum(counts) if counts else None

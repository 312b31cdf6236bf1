"""How many primary shards an index (or every index an alias or pattern names) has,
learnt once per index.

``auto`` needs it on OpenSearch: native fusion there is shard-dependent (see
:func:`~.native.auto_skips_native`), so a multi-shard index is fused in the sidecar.
"""

from __future__ import annotations

import threading

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import EngineRequestError


class ShardCounts:
    def __init__(self) -> None:
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()

    def of(self, adapter: EngineAdapter, index: str) -> int | None:
        """The primaries behind ``index``; ``None`` when the engine does not say (no such
        index yet, or no right to read settings), and then nothing is learnt."""
        with self._lock:
            if index in self._known:
                return self._known[index]
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
        if not counts:
            return None
        total = sum(counts)
        with self._lock:
            self._known[index] = total
        return total

"""The threads server-side ingest runs on: a bounded pool of its own.

``IndexDocuments`` streams never borrow the default executor (which runs Search,
CreateIndex and the engine watcher), so any number of open streams cannot starve
them; past ``--max-ingest-streams`` a new stream is refused at once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from .errors import TooLarge
from .metrics import Metrics


class IngestPool:
    """At most ``streams`` ingests at once, each on a thread of its own pool."""

    def __init__(self, streams: int, metrics: Metrics) -> None:
        self.streams = streams
        self.executor = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="tandem-ingest")
        self._busy = 0
        self._lock = threading.Lock()
        self._metrics = metrics

    def claim(self) -> None:
        """Take a slot, or raise ``RESOURCE_EXHAUSTED`` when every slot is busy."""
        with self._lock:
            if self._busy >= self.streams:
                raise TooLarge(
                    f"{self.streams} IndexDocuments or EnrichIndex streams are already running "
                    f"(--max-ingest-streams {self.streams}); retry when one ends"
                )
            self._busy += 1
            self._metrics.ingest_streams.set(self._busy)

    def release(self) -> None:
        with self._lock:
            self._busy -= 1
            self._metrics.ingest_streams.set(self._busy)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

"""A one-line progress display for long ingests: counts, docs/s, failures, ETA."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Snapshot:
    done: int
    failed: int
    skipped: int
    seconds: float
    total: int | None = None

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def render(snapshot: Snapshot, verb: str = "indexed") -> str:
    """``indexed 1,234/5,183 (24%) · 45.6 docs/s · failed 2 · ETA 1m26s``."""
    parts = [f"{verb} {snapshot.done:,}"]
    if snapshot.total:
        handled = snapshot.done + snapshot.failed + snapshot.skipped
        parts[0] += f"/{snapshot.total:,} ({100 * handled / snapshot.total:.0f}%)"
    parts.append(f"{snapshot.rate:.1f} docs/s")
    if snapshot.failed:
        parts.append(f"failed {snapshot.failed:,}")
    if snapshot.skipped:
        parts.append(f"skipped {snapshot.skipped:,}")
    if snapshot.total and snapshot.rate > 0:
        left = snapshot.total - snapshot.done - snapshot.failed - snapshot.skipped
        minutes, seconds = divmod(int(max(left, 0) / snapshot.rate), 60)
        parts.append(f"ETA {minutes}m{seconds:02d}s")
    return " · ".join(parts)


class ProgressLine:
    """Redraws one stderr line at most every ``interval`` seconds (plain lines when not a TTY)."""

    def __init__(
        self, stream: TextIO = sys.stderr, interval: float = 0.5, verb: str = "indexed"
    ) -> None:
        self.verb = verb
        self.stream = stream
        self.interval = interval
        self._last = 0.0
        self._tty = stream.isatty()

    def __call__(self, snapshot: Snapshot, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < (self.interval if self._tty else 10 * self.interval):
            return
        self._last = now
        line = render(snapshot, self.verb)
        if self._tty:
            self.stream.write(f"\r\x1b[2K{line}" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

"""What an enrich run did, counted as it goes; the progress line and the final report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tandem.encoders.passages import Lengths
from tandem.plugin.ingest.pipeline import Failure
from tandem.plugin.ingest.progress import Snapshot

PHASES = ("prepare", "backfill", "catch-up", "switch", "follow", "done")


@dataclass
class StageTimes:
    """Seconds spent reading, encoding and writing (writes overlap encoding)."""

    scan: float = 0.0
    encode: float = 0.0
    write: float = 0.0


@dataclass
class EnrichReport:
    strategy: str
    source: str
    target: str
    alias: str | None = None
    phase: str = "prepare"
    total: int | None = None
    scanned: int = 0
    enriched: int = 0
    copied: int = 0
    unchanged: int = 0
    rechecked: int = 0
    encoded: int = 0
    conflicts: int = 0
    deleted: int = 0
    caught_up: int = 0
    followed: int = 0
    follow_passes: int = 0
    # How long a reindex's switch held the source write-blocked (writes were refused).
    write_pause_seconds: float = 0.0
    # Times the backfill read from the start again because shards stopped answering.
    scan_restarts: int = 0
    no_text: list[str] = field(default_factory=list)
    bad_text: list[Failure] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    stages: StageTimes = field(default_factory=StageTimes)
    started: float = field(default_factory=time.monotonic)
    # Per model: texts longer than its window, the tokens past it, the passages encoded.
    lengths: dict[str, Lengths] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return self.unchanged + len(self.no_text) + len(self.bad_text)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def docs_per_second(self) -> float:
        return self.enriched / self.seconds if self.seconds > 0 else 0.0

    def tick(self) -> None:
        self.seconds = time.monotonic() - self.started

    def snapshot(self) -> Snapshot:
        self.tick()
        total = self.total if self.phase == "backfill" else None
        return Snapshot(self.enriched, self.failed, self.skipped, self.seconds, total)

    def as_dict(self) -> dict[str, object]:
        """The report's JSON shape (``tandem enrich --json`` and the last RPC message)."""
        return {
            "strategy": self.strategy,
            "source": self.source,
            "target": self.target,
            "alias": self.alias,
            "scanned": self.scanned,
            "enriched": self.enriched,
            "copied": self.copied,
            "unchanged": self.unchanged,
            "rechecked": self.rechecked,
            "encoded": self.encoded,
            "conflicts": self.conflicts,
            "deleted": self.deleted,
            "caught_up": self.caught_up,
            "followed": self.followed,
            "follow_passes": self.follow_passes,
            "write_pause_seconds": round(self.write_pause_seconds, 3),
            "scan_restarts": self.scan_restarts,
            "no_text": list(self.no_text),
            "bad_text": [{"id": f.id, "reason": f.reason} for f in self.bad_text],
            "failed": [{"id": f.id, "reason": f.reason} for f in self.failures],
            "seconds": round(self.seconds, 3),
            "docs_per_second": round(self.docs_per_second, 2),
            "stages": {
                "scan": round(self.stages.scan, 3),
                "encode": round(self.stages.encode, 3),
                "write": round(self.stages.write, 3),
            },
            "lengths": {model: seen.as_dict() for model, seen in self.lengths.items()},
        }

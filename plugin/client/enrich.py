"""``EnrichIndex`` for the client: what to ask for, what comes back, as plain values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tandem.v1 import index_pb2


@dataclass(frozen=True)
class EnrichSettings:
    """An enrich of ``index``: the text of ``text_fields`` joined by ``joiner`` is encoded.

    Empty field names, ``target`` and ``alias`` mean the sidecar's defaults (see
    ``docs/enrich.md``); ``strategy`` is ``auto``, ``in-place`` or ``reindex``."""

    index: str
    text_fields: Sequence[str]
    strategy: str = "auto"
    joiner: str = "\n"
    dense_field: str = ""
    sparse_field: str = ""
    marker_field: str = ""
    target: str = ""
    alias: str = ""
    resume: bool = False
    follow: bool = False
    poll_seconds: float = 1.0
    sparse_top_k: int = 0
    dry_run: bool = False
    skip_dense: bool = False
    skip_sparse: bool = False
    # Dense vectors per passage of long texts (0: the model's window, half of it).
    passages: bool = False
    passage_window: int = 0
    passage_stride: int = 0
    passage_sparse: bool = False

    def message(self) -> index_pb2.EnrichStart:
        return index_pb2.EnrichStart(
            index=self.index,
            text_fields=list(self.text_fields),
            strategy=self.strategy,
            joiner=self.joiner,
            dense_field=self.dense_field,
            sparse_field=self.sparse_field,
            marker_field=self.marker_field,
            target=self.target,
            alias=self.alias,
            resume=self.resume,
            follow=self.follow,
            poll_seconds=self.poll_seconds,
            sparse_top_k=self.sparse_top_k,
            dry_run=self.dry_run,
            skip_dense=self.skip_dense,
            skip_sparse=self.skip_sparse,
            passages=self.passages,
            passage_window=self.passage_window,
            passage_stride=self.passage_stride,
            passage_sparse=self.passage_sparse,
        )


@dataclass(frozen=True)
class EnrichProgress:
    """Running totals of an ``enrich_index`` call; ``total`` is 0 outside the backfill."""

    phase: str
    enriched: int
    skipped: int
    failed: int
    total: int
    seconds: float
    docs_per_second: float
    followed: int

    @classmethod
    def of(cls, message: index_pb2.EnrichProgress) -> EnrichProgress:
        return cls(
            message.phase,
            message.enriched,
            message.skipped,
            message.failed,
            message.total,
            message.seconds,
            message.docs_per_second,
            message.followed,
        )


@dataclass
class EnrichResult:
    """The plan (first message), the last progress, and the report (``None`` when the
    call ended before its last message, or for a dry run)."""

    plan: dict[str, Any] = field(default_factory=dict)
    progress: EnrichProgress | None = None
    report: dict[str, Any] | None = None
    # The caller interrupted the run (the sidecar stopped it and answered the report).
    interrupted: bool = False

    def take(self, response: index_pb2.EnrichIndexResponse) -> None:
        if response.plan_json:
            self.plan = json.loads(response.plan_json)
        if response.HasField("progress"):
            self.progress = EnrichProgress.of(response.progress)
        if response.report_json:
            self.report = json.loads(response.report_json)

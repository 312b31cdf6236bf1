"""How ``tandem search`` prints a page: one line per hit, or one JSON envelope.

The envelope has the same keys whether this process searched or a sidecar did::

    {"index", "query", "method", "mode", "server", "partial", "timed_out",
     "shard_failures", "timings": {"encode_ms", "engine_ms", "total_ms"},
     "hits": [{"rank", "id", "score", "retrievers": {name: {"rank", "score"}},
               "snippet"}]}

Scores are float32, the precision engines score in, whichever side fused them:
native fusion hands back the engine's float32 scores and sidecar fusion computes
in float64, so each score is printed as the shortest decimal of its float32 value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tandem.plugin.search.hits import FusedHit, score


@dataclass(frozen=True)
class Timings:
    """Milliseconds: encoding the query (with any queue wait in a sidecar), the engine
    round trip, and the whole search (fusion included)."""

    encode_ms: float
    engine_ms: float
    total_ms: float


@dataclass(frozen=True)
class Page:
    """One search's answer, from this process or a sidecar (``server``)."""

    index: str
    query: str
    method: str
    mode: str
    start: int
    hits: list[FusedHit]
    timings: Timings
    server: str | None = None
    timed_out: bool = False
    shard_failures: tuple[str, ...] = ()
    snippets: Mapping[str, str] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return self.timed_out or bool(self.shard_failures)


def partial_note(timed_out: bool, shard_failures: Sequence[str]) -> str | None:
    """What to tell the user when the engine answered from part of the data."""
    if not timed_out and not shard_failures:
        return None
    causes = []
    if timed_out:
        causes.append("the engine timed out")
    if shard_failures:
        noun = "shard failure" if len(shard_failures) == 1 else "shard failures"
        causes.append(f"{len(shard_failures)} {noun}")
    lines = [f"partial results: {'; '.join(causes)}", *(f"  {f}" for f in shard_failures)]
    return "\n".join(lines)


def envelope(page: Page, explain: bool) -> dict[str, Any]:
    """The ``--json`` object; ``retrievers`` is filled when ``explain`` asked for it."""
    hits = [
        {
            "rank": rank,
            "id": hit.id,
            "score": score(hit.score),
            "retrievers": {
                name: {"rank": s.rank, "score": score(s.score)} for name, s in hit.sources.items()
            }
            if explain
            else {},
            "snippet": page.snippets.get(hit.id),
        }
        for rank, hit in enumerate(page.hits, start=page.start + 1)
    ]
    t = page.timings
    return {
        "index": page.index,
        "query": page.query,
        "method": page.method,
        "mode": page.mode,
        "server": page.server,
        "partial": page.partial,
        "timed_out": page.timed_out,
        "shard_failures": list(page.shard_failures),
        "timings": {
            "encode_ms": round(t.encode_ms, 3),
            "engine_ms": round(t.engine_ms, 3),
            "total_ms": round(t.total_ms, 3),
        },
        "hits": hits,
    }


def summary(page: Page) -> str:
    """The stderr line above the hits: how many, and where the time went."""
    t = page.timings
    where = f"in the sidecar at {page.server}" if page.server else "in this process"
    return (
        f"{len(page.hits)} hits ({page.method}; {page.mode} fusion; encode {t.encode_ms:.1f} ms, "
        f"engine {t.engine_ms:.1f} ms, total {t.total_ms:.1f} ms {where})"
    )


def lines(page: Page, explain: bool) -> list[str]:
    """One line per hit: rank, score, id and its snippet; ``explain`` adds a line with
    each retriever's rank and score."""
    out = []
    for rank, hit in enumerate(page.hits, start=page.start + 1):
        line = f"{rank:>4}  {hit.score:10.5f}  {hit.id}"
        text = page.snippets.get(hit.id)
        if text:
            line += f"  {text}"
        out.append(line)
        if explain and hit.sources:
            parts = [f"{n} #{s.rank} ({s.score:.4g})" for n, s in hit.sources.items()]
            out.append(" " * 18 + "[" + ", ".join(parts) + "]")
    return out


def dump(page: Page, explain: bool) -> str:
    return json.dumps(envelope(page, explain), ensure_ascii=False)

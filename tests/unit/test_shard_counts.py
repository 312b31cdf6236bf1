"""ShardCounts: learnt once per index, failures not asked again on every query, and
an index behind an alias re-read after a while (the alias may have moved)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tandem.plugin.engines.errors import EngineRequestError
from tandem.plugin.search.shards import ShardCounts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Settings:
    """Answers the settings request with ``shards`` primaries, or refuses it."""

    def __init__(self, shards: int | None) -> None:
        self.shards = shards
        self.asked = 0

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Mapping[str, Any]:
        self.asked += 1
        if self.shards is None:
            raise EngineRequestError("no right to read settings", status=403)
        return {"books-v1": {"settings": {"index": {"number_of_shards": str(self.shards)}}}}


def test_a_count_is_learnt_once() -> None:
    clock, engine = Clock(), Settings(3)
    counts = ShardCounts(clock=clock)
    assert [counts.of(engine, "books") for _ in range(5)] == [3] * 5  # type: ignore[arg-type]
    assert engine.asked == 1


def test_a_refused_request_is_not_sent_again_on_every_query() -> None:
    clock, engine = Clock(), Settings(None)
    counts = ShardCounts(clock=clock)
    assert [counts.of(engine, "books") for _ in range(5)] == [None] * 5  # type: ignore[arg-type]
    assert engine.asked == 1
    clock.now += ShardCounts.FAILURE_SECONDS + 1
    engine.shards = 2  # the right was granted meanwhile
    assert counts.of(engine, "books") == 2  # type: ignore[arg-type]
    assert engine.asked == 2


def test_a_count_is_read_again_after_a_while() -> None:
    clock, engine = Clock(), Settings(1)
    counts = ShardCounts(clock=clock)
    assert counts.of(engine, "books") == 1  # type: ignore[arg-type]
    engine.shards = 3  # the alias moved to a copy with three primaries
    clock.now += ShardCounts.KNOWN_SECONDS - 1
    assert counts.of(engine, "books") == 1  # type: ignore[arg-type]
    clock.now += 2
    assert counts.of(engine, "books") == 3  # type: ignore[arg-type]
    assert engine.asked == 2

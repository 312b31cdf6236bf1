"""IndexSizes: primaries and documents learnt once per index, failures not asked again
on every query, and an index behind an alias re-read after a while (the alias may
have moved)."""

from __future__ import annotations

from typing import Any

from tandem.plugin.engines.errors import EngineRequestError
from tandem.plugin.search.shards import IndexSize, IndexSizes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Cat:
    """Answers ``_cat/indices`` with ``shards`` primaries over two indices behind the
    alias (``docs`` each), or refuses it."""

    def __init__(self, shards: int | None, docs: int = 10) -> None:
        self.shards = shards
        self.docs = docs
        self.asked = 0

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        self.asked += 1
        assert path == "/_cat/indices/books" and kwargs["params"]["format"] == "json"
        if self.shards is None:
            raise EngineRequestError("no right to read index stats", status=403)
        rows = [
            {"index": "books-v1", "pri": str(self.shards), "docs.count": str(self.docs)},
            {"index": "books-v2", "pri": "0", "docs.count": str(self.docs)},
        ]
        return {"answer": rows}  # as the adapters return a JSON array


def test_a_count_is_learnt_once() -> None:
    clock, engine = Clock(), Cat(3)
    counts = IndexSizes(clock=clock)
    assert [counts.primaries(engine, "books") for _ in range(5)] == [3] * 5  # type: ignore[arg-type]
    assert engine.asked == 1


def test_a_refused_request_is_not_sent_again_on_every_query() -> None:
    clock, engine = Clock(), Cat(None)
    counts = IndexSizes(clock=clock)
    assert [counts.primaries(engine, "books") for _ in range(5)] == [None] * 5  # type: ignore[arg-type]
    assert engine.asked == 1
    clock.now += IndexSizes.FAILURE_SECONDS + 1
    engine.shards = 2  # the right was granted meanwhile
    assert counts.primaries(engine, "books") == 2  # type: ignore[arg-type]
    assert engine.asked == 2


def test_a_count_is_read_again_after_a_while() -> None:
    clock, engine = Clock(), Cat(1)
    counts = IndexSizes(clock=clock)
    assert counts.primaries(engine, "books") == 1  # type: ignore[arg-type]
    engine.shards = 3  # the alias moved to a copy with three primaries
    clock.now += IndexSizes.KNOWN_SECONDS - 1
    assert counts.primaries(engine, "books") == 1  # type: ignore[arg-type]
    clock.now += 2
    assert counts.primaries(engine, "books") == 3  # type: ignore[arg-type]
    assert engine.asked == 2


def test_documents_are_summed_over_the_indices_behind_a_name() -> None:
    clock, engine = Clock(), Cat(2, docs=600_000)
    sizes = IndexSizes(clock=clock)
    assert sizes.of(engine, "books") == IndexSize(2, 1_200_000)  # type: ignore[arg-type]
    assert sizes.docs(engine, "books") == 1_200_000  # type: ignore[arg-type]
    assert engine.asked == 1

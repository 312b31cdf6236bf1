from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tandem.plugin.engines.base import BulkItemResult
from tandem.plugin.engines.errors import EngineBadRequest, EngineOverloaded, EngineUnavailable
from tandem.plugin.ingest.bulk import BulkOptions, BulkWriter, ChunkBuffer, Pending, RetryPolicy


class ScriptedAdapter:
    """Answers each bulk call from a script: an exception, or a status per document."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    def bulk(
        self, operations: Sequence[Mapping[str, Any]], refresh: bool = False
    ) -> list[BulkItemResult]:
        ids = [op["index"]["_id"] for op in operations[::2]]
        self.calls.append(ids)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return [
            BulkItemResult(
                i,
                step.get(i, 201),
                *(("mapper_parsing_exception", "bad") if step.get(i) == 400 else (None, None)),
            )
            for i in ids
        ]


def _items(*ids: str) -> list[Pending]:
    return [Pending.of(i, {"text": f"doc {i}"}) for i in ids]


def _writer(adapter: ScriptedAdapter, attempts: int = 4) -> tuple[BulkWriter, list[float]]:
    sleeps: list[float] = []
    options = BulkOptions(retry=RetryPolicy(attempts=attempts, base=0.1, cap=0.3))
    writer = BulkWriter(adapter, "idx", options, sleep=sleeps.append, rng=random.Random(1))  # type: ignore[arg-type]
    return writer, sleeps


def test_operations_are_index_actions_with_the_documents_ids() -> None:
    adapter = ScriptedAdapter([{}])
    writer, _ = _writer(adapter)
    ops = writer._operations(_items("a"))
    assert ops == [{"index": {"_index": "idx", "_id": "a"}}, {"text": "doc a"}]


def test_only_429_items_are_resent() -> None:
    adapter = ScriptedAdapter([{"b": 429, "c": 400}, {}])
    writer, sleeps = _writer(adapter)
    results = writer.send(_items("a", "b", "c"))
    assert adapter.calls == [["a", "b", "c"], ["b"]]
    assert [(r.id, r.ok, r.attempts) for r in results] == [
        ("a", True, 1),
        ("b", True, 2),
        ("c", False, 1),
    ]
    assert "mapper_parsing_exception" in (results[2].reason or "")
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.1


def test_whole_request_overload_and_outage_are_retried() -> None:
    adapter = ScriptedAdapter([EngineOverloaded("429", 429), EngineUnavailable("refused"), {}])
    writer, sleeps = _writer(adapter)
    results = writer.send(_items("a", "b"))
    assert all(r.ok and r.attempts == 3 for r in results)
    assert len(sleeps) == 2 and all(s <= 0.3 for s in sleeps)


def test_gives_up_after_the_last_attempt_with_the_reason() -> None:
    adapter = ScriptedAdapter([{"a": 503}] * 3)
    writer, sleeps = _writer(adapter, attempts=3)
    (result,) = writer.send(_items("a"))
    assert not result.ok
    assert result.reason is not None and result.reason.startswith("gave up after 3 attempts: 503")
    assert len(sleeps) == 2


def test_a_refused_request_fails_every_document_without_retrying() -> None:
    adapter = ScriptedAdapter([EngineBadRequest("malformed", 400)])
    writer, sleeps = _writer(adapter)
    results = writer.send(_items("a", "b"))
    assert [r.ok for r in results] == [False, False]
    assert sleeps == [] and len(adapter.calls) == 1


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=10, base=0.5, cap=4.0)
    rng = random.Random(0)
    delays = [policy.delay(a, rng) for a in range(10) for _ in range(50)]
    assert max(delays) <= 4.0
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not a fixed ladder


def test_chunk_buffer_cuts_by_count_and_bytes() -> None:
    buffer = ChunkBuffer(max_docs=3, max_bytes=10_000)
    closed = [c for c in (buffer.add(i) for i in _items(*"abcdefg")) if c]
    assert [[p.id for p in c] for c in closed] == [["a", "b", "c"], ["d", "e", "f"]]
    assert [p.id for p in buffer.flush()] == ["g"]
    assert buffer.flush() == []

    big = Pending.of("big", {"text": "x" * 5000})
    by_bytes = ChunkBuffer(max_docs=100, max_bytes=4096)
    assert by_bytes.add(_items("a")[0]) is None
    assert [p.id for p in by_bytes.add(big) or []] == ["a"]  # big goes alone
    assert [p.id for p in by_bytes.add(_items("b")[0]) or []] == ["big"]


@pytest.mark.parametrize("bad", [{"max_docs": 0}, {"max_bytes": 10}, {"concurrency": 0}])
def test_bad_bulk_options(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        BulkOptions(**bad)  # type: ignore[arg-type]


def test_a_partly_filled_buffer_knows_how_long_it_has_waited() -> None:
    buffer = ChunkBuffer(max_docs=100, max_bytes=10_000)
    assert buffer.age() == 0.0
    buffer.add(_items("a")[0])
    assert 0.0 <= buffer.age() < 1.0
    buffer.flush()
    assert buffer.age() == 0.0


class _FlakyLookup(ScriptedAdapter):
    """A resume lookup that fails ``failures`` times with a transient error, then answers."""

    def __init__(self, failures: int) -> None:
        super().__init__([{}, {}])
        self.failures = failures
        self.lookups = 0

    def existing_ids(self, index: str, ids: Sequence[str]) -> set[str]:
        self.lookups += 1
        if self.lookups <= self.failures:
            raise EngineUnavailable("connection reset")
        return {"a"}


def _ingest(adapter: _FlakyLookup) -> Any:
    import numpy as np

    from tandem.plugin.ingest.documents import Document
    from tandem.plugin.ingest.pipeline import FieldMap, IngestOptions, Ingestor, SourceBuilder

    class OneDim:
        def encode(self, texts: Sequence[str], kind: Any = None) -> Any:
            return np.ones((len(texts), 1), dtype=np.float32)

    writer = BulkWriter(adapter, "idx", BulkOptions(), sleep=lambda _: None)  # type: ignore[arg-type]
    builder = SourceBuilder(FieldMap(sparse=None), OneDim(), None)
    docs = [Document("a", {"text": "x"}, {}), Document("b", {"text": "y"}, {})]
    return Ingestor(writer, builder, IngestOptions(resume=True)).run(docs)


def test_the_resume_lookup_survives_a_transient_engine_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 88a4715 one reset connection during the resume lookup killed the whole ingest."""
    monkeypatch.setattr("tandem.plugin.ingest.pipeline._RESUME_RETRIES", (0.0,))
    adapter = _FlakyLookup(failures=1)
    report = _ingest(adapter)
    assert (report.indexed, report.skipped) == (1, 1)
    with pytest.raises(EngineUnavailable):
        _ingest(_FlakyLookup(failures=2))  # an engine that stays away still ends the ingest

"""The dynamic batcher on hand-made work: no model, a recording fake run function."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tandem.plugin.server import batcher as batcher_module
from tandem.plugin.server.batcher import (
    BatcherClosed,
    BatcherOptions,
    BatcherRestarting,
    DynamicBatcher,
    QueueFull,
    pick_batch,
    restart_delay,
)


def test_pick_batch_starts_with_the_oldest_and_adds_the_closest_lengths() -> None:
    options = BatcherOptions(max_tokens=100, max_rows=3)
    # oldest is 10 tokens; 11 and 9 are closest, 50 would blow the budget
    assert pick_batch([10, 50, 11, 9, 30], options) == [0, 2, 3]


def test_pick_batch_respects_the_token_budget_of_padded_rows() -> None:
    options = BatcherOptions(max_tokens=60, max_rows=10)
    # 20 x 3 rows = 60 fits; a fourth row of width 20 would be 80
    assert pick_batch([20, 20, 20, 20], options) == [0, 1, 2]


def test_a_text_longer_than_the_budget_runs_alone() -> None:
    assert pick_batch([500, 5, 5], BatcherOptions(max_tokens=100)) == [0]


def test_pick_batch_of_nothing_is_empty() -> None:
    assert pick_batch([], BatcherOptions()) == []


class Recorder:
    """A fake model: records each batch, answers text -> (key, text)."""

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.batches: list[tuple[Hashable, list[str]]] = []
        self.delay = delay
        self.fail_on = fail_on
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, key: Hashable, texts: list[str]) -> list[tuple[Hashable, str]]:
        self.gate.wait(5)
        self.batches.append((key, list(texts)))
        if self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on}")
        return [(key, t) for t in texts]


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_concurrent_requests_share_batches_and_get_their_own_results() -> None:
    recorder = Recorder()

    async def main() -> list[list[tuple[Hashable, str]]]:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher("m", recorder, pool, BatcherOptions(max_wait_ms=20))
            batcher.start()
            answers = await asyncio.gather(*(batcher.submit([f"t{i}"], [3]) for i in range(10)))
            await batcher.close()
        return [[r for r, _ in a] for a in answers]

    answers = run(main())
    assert answers == [[(None, f"t{i}")] for i in range(10)]
    assert len(recorder.batches) < 10  # batched, not one run per request
    assert sum(len(texts) for _, texts in recorder.batches) == 10


def test_timings_report_batch_rows_and_tokens() -> None:
    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher("m", Recorder(), pool, BatcherOptions(max_wait_ms=20))
            batcher.start()
            first, second = await asyncio.gather(
                batcher.submit(["a"], [4]), batcher.submit(["b"], [6])
            )
            await batcher.close()
        timing = first[0][1]
        assert timing.tokens == 4 and second[0][1].tokens == 6
        assert timing.batch_rows == 2
        assert timing.queue_ms >= 0 and timing.inference_ms >= 0

    run(main())


def test_keys_never_share_a_batch() -> None:
    recorder = Recorder()

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher("m", recorder, pool, BatcherOptions(max_wait_ms=20))
            batcher.start()
            await asyncio.gather(
                batcher.submit(["q1"], [2], key="query"),
                batcher.submit(["d1"], [2], key="doc"),
                batcher.submit(["q2"], [2], key="query"),
            )
            await batcher.close()

    run(main())
    for key, texts in recorder.batches:
        assert all(t[0] == str(key)[0] for t in texts)


def test_a_full_queue_is_refused_not_buffered() -> None:
    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher("m", Recorder(), pool, BatcherOptions(max_queue=3))
            with pytest.raises(QueueFull, match="limit 3"):
                await batcher.submit(["a", "b", "c", "d"], [1, 1, 1, 1])
            await batcher.close()

    run(main())


def test_a_failing_batch_fails_every_request_in_it() -> None:
    recorder = Recorder(fail_on="bad")

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher("m", recorder, pool, BatcherOptions(max_wait_ms=20))
            batcher.start()
            results = await asyncio.gather(
                batcher.submit(["bad"], [1]),
                batcher.submit(["good"], [1]),
                return_exceptions=True,
            )
            assert all(isinstance(r, RuntimeError) for r in results)
            # the batcher survives and serves the next request
            assert (await batcher.submit(["fine"], [1]))[0][0] == (None, "fine")
            await batcher.close()

    run(main())


def test_a_cancelled_request_leaves_the_queue_before_it_runs() -> None:
    recorder = Recorder()
    recorder.gate.clear()  # the first batch blocks until released

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher("m", recorder, pool, BatcherOptions(max_wait_ms=0))
            batcher.start()
            running = asyncio.ensure_future(batcher.submit(["first"], [1]))
            await asyncio.sleep(0.05)  # "first" is now inside the model
            doomed = asyncio.ensure_future(batcher.submit(["doomed"], [1]))
            await asyncio.sleep(0.01)
            assert batcher.depth == 1
            doomed.cancel()
            await asyncio.gather(doomed, return_exceptions=True)
            recorder.gate.set()
            await running
            await batcher.submit(["after"], [1])
            await batcher.close()

    run(main())
    ran = [t for _, texts in recorder.batches for t in texts]
    assert "doomed" not in ran
    assert ran == ["first", "after"]


def test_a_closed_batcher_refuses_new_work() -> None:
    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher("m", Recorder(), pool)
            batcher.start()
            await batcher.close()
            with pytest.raises(BatcherClosed):
                await batcher.submit(["late"], [1])

    run(main())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_tokens": 0},
        {"max_rows": 0},
        {"max_queue": 0},
        {"max_wait_ms": -1},
        {"restart_delay_s": -1},
    ],
)
def test_options_refuse_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BatcherOptions(**kwargs)  # type: ignore[arg-type]


class Observer:
    """Records restarts; ``broken_batches`` makes the first batch reports raise."""

    def __init__(self, broken_batches: int = 0) -> None:
        self.batches = 0
        self.broken_batches = broken_batches
        self.restarts: list[str] = []

    def batch(self, model: str, rows: int, tokens: int, seconds: float) -> None:
        self.batches += 1
        if self.batches <= self.broken_batches:
            raise ValueError("a bug in the metrics")

    def queue_depth(self, model: str, depth: int) -> None:
        return None

    def restarted(self, model: str) -> None:
        self.restarts.append(model)


def _pick_broken_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch-cutting step raises on its first call, then works."""
    real_pick = batcher_module.pick_batch
    calls = {"n": 0}

    def pick(lengths: list[int], options: BatcherOptions) -> list[int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in batch cutting")
        return real_pick(lengths, options)

    monkeypatch.setattr(batcher_module, "pick_batch", pick)


async def _until_serving(batcher: DynamicBatcher[object], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not batcher.serving:
            await asyncio.sleep(0.01)


def test_a_crash_outside_the_model_fails_waiting_requests_and_restarts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault in batch cutting fails the waiting request (it used to hang forever),
    tells the listener, logs the traceback and restarts the loop."""
    _pick_broken_once(monkeypatch)
    observer = Observer()

    async def main() -> list[bool]:
        states: list[bool] = []
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher[object](
                "m", Recorder(), pool, BatcherOptions(restart_delay_s=0.05), observer
            )

            async def listener() -> None:
                states.append(batcher.serving)

            batcher.start(listener)
            with pytest.raises(BatcherRestarting, match="m batcher failed"):
                await asyncio.wait_for(batcher.submit(["waiting"], [1]), 2)
            assert states == [False]  # health is told before the request is answered
            await _until_serving(batcher)
            served = await asyncio.wait_for(batcher.submit(["later"], [1]), 2)
            assert served[0][0] == (None, "later")
            await batcher.close()
        return states

    assert run(main()) == [False, True]
    assert observer.restarts == ["m"]
    (record,) = [r for r in caplog.records if "batch loop failed" in r.getMessage()]
    assert record.exc_info is not None and "a bug in batch cutting" in caplog.text


def test_requests_during_a_restart_are_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _pick_broken_once(monkeypatch)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher[object](
                "m", Recorder(), pool, BatcherOptions(restart_delay_s=0.5)
            )
            batcher.start()
            with pytest.raises(BatcherRestarting):
                await asyncio.wait_for(batcher.submit(["waiting"], [1]), 2)
            assert not batcher.serving
            with pytest.raises(BatcherRestarting, match="retry in a moment"):
                await asyncio.wait_for(batcher.submit(["too early"], [1]), 0.1)
            await _until_serving(batcher)
            assert (await batcher.submit(["on time"], [1]))[0][0] == (None, "on time")
            await batcher.close()

    run(main())


def test_a_crash_while_delivering_fails_the_batch_that_ran() -> None:
    """The model ran, then reporting the batch raised: its requests fail, not hang."""
    observer = Observer(broken_batches=1)
    recorder = Recorder()

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            batcher = DynamicBatcher[object](
                "m", recorder, pool, BatcherOptions(restart_delay_s=0.05), observer
            )
            batcher.start()
            with pytest.raises(BatcherRestarting):
                await asyncio.wait_for(batcher.submit(["in the batch"], [1]), 2)
            await _until_serving(batcher)
            served = await asyncio.wait_for(batcher.submit(["later"], [1]), 2)
            assert served[0][0] == (None, "later")
            await batcher.close()

    run(main())
    assert [texts for _, texts in recorder.batches] == [["in the batch"], ["later"]]
    assert observer.restarts == ["m"]


def test_restarts_back_off_while_crashes_repeat() -> None:
    options = BatcherOptions(restart_delay_s=0.5)
    assert [restart_delay(options, n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert restart_delay(options, 20) == 30.0

from __future__ import annotations

import asyncio
import time

from tandem.encoders.stages import measure, note, stage


def test_nothing_is_recorded_unless_measured() -> None:
    with stage("tokenize"):
        pass
    note("engine took", 3.0)
    with measure() as clock:
        pass
    assert clock == {}


def test_stages_add_up_and_notes_are_kept_apart() -> None:
    with measure() as clock:
        for _ in range(2):
            with stage("fuse"):
                time.sleep(0.01)
        note("engine took", 4.0)
        note("engine took", 1.0)
    assert clock["fuse"] >= 20.0
    assert clock["engine took"] == 5.0
    with stage("fuse"):  # after the block: not recorded
        time.sleep(0.01)
    assert clock["fuse"] < 60.0


def test_a_failing_stage_is_still_timed() -> None:
    with measure() as clock:
        try:
            with stage("engine round trip"):
                raise TimeoutError
        except TimeoutError:
            pass
    assert "engine round trip" in clock


def test_concurrent_requests_keep_their_own_clocks() -> None:
    async def one(name: str, delay: float) -> dict[str, float]:
        with measure() as clock, stage(name):
            await asyncio.sleep(delay)
        return clock

    async def both() -> list[dict[str, float]]:
        return list(await asyncio.gather(one("a", 0.02), one("b", 0.01)))

    first, second = asyncio.run(both())
    assert set(first) == {"a"} and set(second) == {"b"}

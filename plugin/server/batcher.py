"""Dynamic batching: texts from concurrent requests share one model run.

Each model has one :class:`DynamicBatcher`. Requests add their texts (with
token counts) to a queue; a single loop cuts batches and runs them on a worker
thread, off the event loop. A batch holds at most ``max_rows`` texts and
``max_tokens`` padded tokens (rows x longest row). It starts with the oldest
waiting text, so nothing starves, then adds the waiting texts closest to it in
length, so padding stays small. While a batch runs, the next one fills up by
itself; with ``max_wait_ms`` above 0, an idle model also waits that long for
company when less than one full batch is queued (worth it on GPUs, not on a
CPU whose cores one text already keeps busy). A request that is cancelled (client gone,
deadline passed) leaves the queue before its texts are run.

The loop is supervised: an error outside the model call (a bug in batch cutting or
delivery) fails every waiting request with :class:`BatcherRestarting`, logs its
traceback, tells the listener given to :meth:`DynamicBatcher.start` (the sidecar
turns health NOT_SERVING), and restarts the loop after a short pause that doubles
while crashes repeat. Errors from the model itself only fail the batch that ran.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

R = TypeVar("R")
log = logging.getLogger("tandem.server")
# Told when a batcher stops or starts serving (see DynamicBatcher.serving).
Listener = Callable[[], Awaitable[None]]
MAX_RESTART_DELAY_S = 30.0


class QueueFull(Exception):
    """More texts are waiting than the batcher accepts: the caller should back off."""


class BatcherClosed(Exception):
    """The batcher is shutting down and takes no new work."""


class BatcherRestarting(Exception):
    """The batch loop failed and is restarting: the texts were not run; retry shortly."""


@dataclass(frozen=True)
class BatcherOptions:
    """Defaults measured on a 2-core CPU (benchmarks/serve.py): onnxruntime already uses
    every core for one text, so waiting for company only adds latency, and runs of
    about 512 padded tokens are the fastest per text. GPUs want more of both."""

    max_tokens: int = 512
    max_rows: int = 64
    max_wait_ms: float = 0.0
    max_queue: int = 2048
    # Pause before a crashed loop restarts; doubles per crash in a row, up to 30 s.
    restart_delay_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_tokens < 1 or self.max_rows < 1 or self.max_queue < 1:
            raise ValueError("max_tokens, max_rows and max_queue must be positive")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.restart_delay_s < 0:
            raise ValueError(f"restart_delay_s must be >= 0, got {self.restart_delay_s}")


@dataclass(frozen=True)
class Timing:
    """What one text went through: its wait in the queue and the run it was part of."""

    queue_ms: float
    inference_ms: float
    tokens: int
    batch_rows: int


class BatchObserver(Protocol):
    """Receives batch and queue figures (the Prometheus metrics implement it)."""

    def batch(self, model: str, rows: int, tokens: int, seconds: float) -> None: ...

    def queue_depth(self, model: str, depth: int) -> None: ...

    def restarted(self, model: str) -> None: ...


@dataclass
class _Item(Generic[R]):
    text: str
    tokens: int
    key: Hashable
    future: asyncio.Future[tuple[R, Timing]]
    enqueued: float


def pick_batch(lengths: Sequence[int], options: BatcherOptions) -> list[int]:
    """Positions (into ``lengths``, oldest first) of the next batch.

    Always the oldest; then the others closest to its length while the batch
    stays within ``max_rows`` and ``max_tokens``. A text longer than the token
    budget runs alone.
    """
    if not lengths:
        return []
    first = lengths[0]
    others = sorted(range(1, len(lengths)), key=lambda i: (abs(lengths[i] - first), i))
    chosen = [0]
    width = first
    for i in others:
        if len(chosen) == options.max_rows:
            break
        wider = max(width, lengths[i])
        if wider * (len(chosen) + 1) > options.max_tokens:
            continue
        chosen.append(i)
        width = wider
    return sorted(chosen)


def restart_delay(options: BatcherOptions, crashes: int) -> float:
    """Seconds to pause before restarting after ``crashes`` crashes in a row (1, 2, ...)."""
    return float(min(options.restart_delay_s * 2 ** (crashes - 1), MAX_RESTART_DELAY_S))


class DynamicBatcher(Generic[R]):
    """Batches texts for one model; ``run(key, texts)`` returns one result per text.

    Texts with different ``key`` (say, queries and documents of a model that
    prefixes them differently) never share a batch.
    """

    def __init__(
        self,
        model: str,
        run: Callable[[Hashable, list[str]], Sequence[R]],
        executor: Executor,
        options: BatcherOptions = BatcherOptions(),
        observer: BatchObserver | None = None,
    ) -> None:
        self.model = model
        self.options = options
        self._run = run
        self._executor = executor
        self._observer = observer
        self._pending: list[_Item[R]] = []
        self._running: list[_Item[R]] = []  # the batch the loop holds (on the model, or delivering)
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._serving = True
        self._crashes = 0  # in a row: reset by every batch delivered
        self._listener: Listener | None = None

    @property
    def depth(self) -> int:
        return len(self._pending)

    @property
    def serving(self) -> bool:
        """False from a crash of the loop until it has restarted."""
        return self._serving

    def start(self, listener: Listener | None = None) -> None:
        """Start the loop; ``listener`` is awaited whenever :attr:`serving` changes."""
        if self._task is None:
            self._listener = listener
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"batcher-{self.model}"
            )

    async def submit(
        self, texts: Sequence[str], tokens: Sequence[int], key: Hashable = None
    ) -> list[tuple[R, Timing]]:
        """Results for ``texts`` in order, once every batch holding one has run."""
        if self._closed:
            raise BatcherClosed(f"the {self.model} batcher is shutting down")
        if not self._serving:
            raise BatcherRestarting(
                f"the {self.model} batcher failed and is restarting; retry in a moment"
            )
        if len(self._pending) + len(texts) > self.options.max_queue:
            raise QueueFull(
                f"{self.model}: {len(self._pending)} texts are already waiting "
                f"(limit {self.options.max_queue}); retry with backoff"
            )
        loop = asyncio.get_running_loop()
        now = time.perf_counter()
        items = [
            _Item[R](text, count, key, loop.create_future(), now)
            for text, count in zip(texts, tokens, strict=True)
        ]
        self._pending.extend(items)
        self._report_depth()
        self._arrived.set()
        try:
            return list(await asyncio.gather(*(item.future for item in items)))
        except BaseException:
            for item in items:
                item.future.cancel()  # still queued: dropped before it runs
            raise

    async def close(self) -> None:
        """Refuse new work, finish what is queued, stop the loop."""
        self._closed = True
        while self._pending and self._task is not None and not self._task.done():
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _report_depth(self) -> None:
        if self._observer is not None:
            self._observer.queue_depth(self.model, len(self._pending))

    def _tokens_waiting(self) -> int:
        return sum(item.tokens for item in self._pending)

    async def _supervise(self) -> None:
        while True:
            try:
                await self._loop()
            except Exception as err:  # CancelledError (close) is not caught: it ends the task
                await self._recover(err)

    async def _recover(self, err: Exception) -> None:
        """Fail what waits, go NOT_SERVING, pause, then serve again with a fresh loop."""
        self._crashes += 1
        delay = restart_delay(self.options, self._crashes)
        waiting = [item for item in (*self._running, *self._pending) if not item.future.done()]
        log.error(
            "the %s batch loop failed; failing %d waiting texts and restarting in %.1f s",
            self.model,
            len(waiting),
            delay,
            exc_info=err,
        )
        self._serving = False
        await self._notify()
        refusal = BatcherRestarting(
            f"the {self.model} batcher failed (see the sidecar's log) and restarts in "
            f"{delay:.1f} s; retry then"
        )
        for item in waiting:
            if not item.future.done():  # a client may have gone while health was published
                item.future.set_exception(refusal)
        self._running, self._pending = [], []
        self._arrived.clear()
        self._observe(lambda o: o.queue_depth(self.model, 0))
        await asyncio.sleep(delay)
        self._serving = True
        self._observe(lambda o: o.restarted(self.model))
        log.warning("the %s batch loop restarted", self.model)
        await self._notify()

    async def _notify(self) -> None:
        if self._listener is None:
            return
        try:
            await self._listener()
        except Exception:  # the loop must come back even if health cannot be published
            log.exception("publishing the %s batcher's state failed", self.model)

    def _observe(self, report: Callable[[BatchObserver], None]) -> None:
        if self._observer is None:
            return
        try:
            report(self._observer)
        except Exception:
            log.exception("reporting the %s batcher's metrics failed", self.model)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            self._pending = [item for item in self._pending if not item.future.done()]
            if not self._pending:
                self._arrived.clear()
                continue
            full = (
                len(self._pending) >= self.options.max_rows
                or self._tokens_waiting() >= self.options.max_tokens
            )
            if not full and self.options.max_wait_ms > 0:
                await asyncio.sleep(self.options.max_wait_ms / 1000)
                self._pending = [item for item in self._pending if not item.future.done()]
                if not self._pending:
                    continue
            batch = self._running = self._take()
            self._report_depth()
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(
                    self._executor, self._run, batch[0].key, [item.text for item in batch]
                )
            except Exception as err:  # handed to every request in the batch
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(err)
                self._running = []
                continue
            finished = time.perf_counter()
            self._deliver(batch, results, started, finished)
            self._running = []
            self._crashes = 0

    def _take(self) -> list[_Item[R]]:
        key = self._pending[0].key
        same = [item for item in self._pending if item.key == key]
        chosen = {id(same[i]) for i in pick_batch([item.tokens for item in same], self.options)}
        batch = [item for item in self._pending if id(item) in chosen]
        self._pending = [item for item in self._pending if id(item) not in chosen]
        if not self._pending:
            self._arrived.clear()
        return batch

    def _deliver(
        self, batch: list[_Item[R]], results: Sequence[R], started: float, finished: float
    ) -> None:
        tokens = sum(item.tokens for item in batch)
        if self._observer is not None:
            self._observer.batch(self.model, len(batch), tokens, finished - started)
        inference_ms = 1000 * (finished - started)
        for item, result in zip(batch, results, strict=True):
            if item.future.done():
                continue
            timing = Timing(1000 * (started - item.enqueued), inference_ms, item.tokens, len(batch))
            item.future.set_result((result, timing))

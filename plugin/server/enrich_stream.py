"""One ``EnrichIndex`` call: plan, then run the enricher on a thread and stream progress.

The client's first message starts the run; a stop message later ends it where it is
(the page in hand settles) and the call still answers the report. The run is the same
:class:`~tandem.plugin.enrich.run.Enricher` as ``tandem enrich``; its texts go through
the sidecar's batchers (shared model runs, ``--max-queue``, the encoder metrics) and it
holds a slot of the ingest pool, so it never borrows the default executor that serves
Search. Progress is sent at most every ``_PROGRESS_SECONDS``; the last message carries
the report. A cancelled call also stops the run, without a report; the checkpoint in
the sidecar's cache lets ``resume=true`` carry on. When the sidecar stops, the run stops
too, answers its report and ends ``UNAVAILABLE`` saying to resume.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.enrich.checkpoint import (
    Checkpoint,
    default_path,
    lift_left_block,
    resumed_target,
)
from tandem.plugin.enrich.marker import DEFAULT_MARKER_FIELD, model_label, models_id
from tandem.plugin.enrich.plan import STRATEGIES, EnrichPlan, EnrichRefused, EnrichRequest, plan
from tandem.plugin.enrich.report import EnrichReport
from tandem.plugin.enrich.run import Enricher, EnrichOptions
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD, Passages, SpecError
from tandem.plugin.ingest.passages import Splitters, check_windows
from tandem.v1 import index_pb2

from . import convert
from .encoding import Usage
from .errors import InvalidRequest, ModelMissing, NotReady
from .ingest_encoders import batched
from .runtime import Runtime

_PROGRESS_SECONDS = 0.5


def progress_message(report: EnrichReport) -> index_pb2.EnrichProgress:
    snapshot = report.snapshot()
    return index_pb2.EnrichProgress(
        phase=report.phase,
        enriched=report.enriched,
        skipped=report.skipped,
        failed=report.failed,
        total=snapshot.total or 0,
        seconds=report.seconds,
        docs_per_second=report.docs_per_second,
        followed=report.followed,
    )


class EnrichStream:
    """One call, after :meth:`prepare` has checked the request and planned the run."""

    def __init__(
        self, runtime: Runtime, adapter: EngineAdapter, request: index_pb2.EnrichStart
    ) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.request = request
        self.dense = None if request.skip_dense else runtime.dense
        self.sparse = None if request.skip_sparse else runtime.sparse
        if self.dense is None and self.sparse is None:
            raise ModelMissing(
                "enrich needs a dense or a sparse model, and this request leaves out every "
                "model the sidecar serves"
            )
        self.checkpoint = Checkpoint(default_path(adapter.url, request.index))
        self.stop = threading.Event()
        self.loop = asyncio.get_running_loop()

    def _enrich_request(self, saved: dict[str, Any] | None) -> EnrichRequest:
        r = self.request
        for name, field in ((r.index, "index"), (r.target, "target"), (r.alias, "alias")):
            if name:
                self.runtime.indices.check(name, field)
        if r.strategy and r.strategy not in STRATEGIES:
            raise InvalidRequest(f"strategy {r.strategy!r} is not one of {', '.join(STRATEGIES)}")
        if r.poll_seconds < 0:
            raise InvalidRequest(f"poll_seconds must be positive, got {r.poll_seconds}")
        try:
            return EnrichRequest(
                r.index,
                tuple(f.strip() for f in r.text_fields if f.strip()),
                self.dense.dimensions if self.dense is not None else None,
                self.sparse is not None,
                r.joiner if r.HasField("joiner") else "\n",
                r.dense_field or DEFAULT_DENSE_FIELD,
                r.sparse_field or DEFAULT_SPARSE_FIELD,
                r.marker_field or DEFAULT_MARKER_FIELD,
                r.strategy or "auto",
                resumed_target(saved, r.resume, r.target or None),
                r.alias or None,
                passages=self._passages(),
            )
        except EnrichRefused as err:
            raise InvalidRequest(str(err)) from err

    def _passages(self) -> Passages | None:
        r = self.request
        if not r.passages:
            if r.passage_window or r.passage_stride or r.passage_sparse:
                raise InvalidRequest(
                    "passage_window, passage_stride and passage_sparse need passages: true"
                )
            return None
        try:
            passages = Passages(
                r.passage_window or None, r.passage_stride or None, r.passage_sparse
            )
            # A window longer than a model reads is refused now, before the plan.
            check_windows(
                self.dense.encoder if self.dense is not None else None,
                self.sparse.encoder if self.sparse is not None else None,
                passages,
            )
        except (SpecError, ValueError) as err:
            raise InvalidRequest(str(err)) from err
        return passages

    async def prepare(self) -> EnrichPlan:
        """Check the request and the index; raises before anything is written."""
        saved = await asyncio.to_thread(self.checkpoint.load)
        request = self._enrich_request(saved)
        await asyncio.to_thread(lift_left_block, self.adapter, saved, self.request.resume)
        return await asyncio.to_thread(
            plan, self.adapter, request, bool(self.request.resume and saved)
        )

    def _enricher(self, the_plan: EnrichPlan, changed: asyncio.Event) -> Enricher:
        dense, sparse, self.usage = batched(self.dense, self.sparse, self.loop, self.stop)
        r = self.request
        return Enricher(
            self.adapter,
            the_plan,
            dense,
            sparse,
            models_id(
                model_label(self.dense.name, self.dense.int8) if self.dense else None,
                model_label(self.sparse.name, self.sparse.int8) if self.sparse else None,
            ),
            EnrichOptions(
                resume=r.resume,
                follow=r.follow,
                poll_seconds=r.poll_seconds or 1.0,
                pruning=Pruning(top_k=r.sparse_top_k or None),
            ),
            self.checkpoint,
            progress=lambda _report, _final: self._wake(changed),
            stop=self.stop,
            splitters=Splitters.for_index(
                self.dense.encoder if self.dense is not None else None,
                self.sparse.encoder if self.sparse is not None else None,
                the_plan.request.passages,
            ),
        )

    def _wake(self, changed: asyncio.Event) -> None:
        """Called on the enrich thread after each settled page."""
        self.loop.call_soon_threadsafe(changed.set)

    async def _listen(self, stream: AsyncIterator[index_pb2.EnrichIndexRequest]) -> None:
        """Set the stop event when the client sends a stop message."""
        async for message in stream:
            if message.WhichOneof("item") == "stop":
                self.stop.set()
                return
            raise InvalidRequest("only the first message starts a run; later ones stop it")

    async def responses(
        self,
        the_plan: EnrichPlan,
        stream: AsyncIterator[index_pb2.EnrichIndexRequest],
        started: float,
    ) -> AsyncIterator[index_pb2.EnrichIndexResponse]:
        first = index_pb2.EnrichIndexResponse(
            plan_json=json.dumps(the_plan.summary()),
            progress=index_pb2.EnrichProgress(phase="prepare"),
        )
        if self.request.dry_run:
            first.done = True
            elapsed = 1000 * (time.perf_counter() - started)
            first.metadata.CopyFrom(convert.metadata(Usage(), 0.0, elapsed))
            yield first
            return
        yield first
        changed = asyncio.Event()
        enricher = self._enricher(the_plan, changed)
        pool = self.runtime.ingest
        pool.claim()
        worker = self.loop.run_in_executor(pool.executor, enricher.run)
        worker.add_done_callback(lambda _: pool.release())
        stopping = asyncio.ensure_future(self.runtime.stopping.wait())
        listener = asyncio.ensure_future(self._listen(stream))
        try:
            while not worker.done():
                waiter = asyncio.ensure_future(changed.wait())
                waits: set[asyncio.Future[Any]] = {worker, waiter, stopping}
                if not listener.done():
                    waits.add(listener)
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if listener.done() and not listener.cancelled() and listener.exception():
                    self.stop.set()
                    await asyncio.wait([worker])
                    listener.result()  # the client broke the protocol: answer with that
                if stopping.done():
                    self.stop.set()
                    await asyncio.wait([worker])
                    yield self._last(enricher.report, started, done=False)
                    raise NotReady(
                        f"the sidecar is shutting down: enrich of {self.request.index!r} stopped "
                        f"in {enricher.report.phase} with {enricher.report.enriched} documents "
                        "enriched; send the request again with resume=true to carry on"
                    )
                if worker.done():
                    break
                changed.clear()
                yield index_pb2.EnrichIndexResponse(progress=progress_message(enricher.report))
                await asyncio.wait([worker], timeout=_PROGRESS_SECONDS)
            report = worker.result()  # a failed run ends the call with its error
            yield self._last(report, started, done=True)
        finally:
            self.stop.set()
            stopping.cancel()
            listener.cancel()

    def _last(
        self, report: EnrichReport, started: float, done: bool
    ) -> index_pb2.EnrichIndexResponse:
        return index_pb2.EnrichIndexResponse(
            progress=progress_message(report),
            report_json=json.dumps(report.as_dict()),
            done=done,
            metadata=convert.metadata(
                self.usage.usage(), 0.0, 1000 * (time.perf_counter() - started)
            ),
        )

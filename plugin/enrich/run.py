"""One enrich run: prepare, backfill, catch up, switch (reindex), follow.

Reading, encoding and writing overlap: each page is encoded in the calling thread
while the previous page's bulk requests are in flight (onnxruntime releases the
GIL). A page counts as done, and the checkpoint moves past it, only once every
write of it has settled. In place, each write is a partial ``update`` guarded by
the ``_seq_no`` and ``_primary_term`` the document was read with, so a document
edited meanwhile is never given vectors of its old text: the conflict is re-read
and encoded again.

Catch-up: before reading, the run records each shard's global checkpoint (every
write up to it is searchable after a refresh); anything written later has a higher
``_seq_no`` and is read by the next pass, from one watermark to the next. Follow
mode repeats those passes every ``poll_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.base import EngineAdapter, Json
from tandem.plugin.ingest.bulk import BulkOptions, BulkWriter, DocResult, Pending
from tandem.plugin.ingest.passages import Splitters
from tandem.plugin.ingest.pipeline import DocumentDense, DocumentSparse, Failure
from tandem.plugin.ingest.vectors import ChunkEncoder, FieldMap, VectorBuilder

from . import dialect
from .checkpoint import Checkpoint
from .deletes import carry_deletes
from .dialect import Hit
from .marker import Marker, text_hash
from .plan import EnrichPlan
from .report import EnrichReport
from .scan import PitScan, SeqNoScan
from .texts import BadText, passage

Progress = Callable[[EnrichReport, bool], None]
_CATCH_UP_PASSES = 5  # passes after the backfill before a run without --follow ends


@dataclass(frozen=True)
class EnrichOptions:
    batch_size: int = 32
    page: int = 256
    resume: bool = False
    follow: bool = False
    poll_seconds: float = 1.0
    pruning: Pruning = field(default_factory=Pruning)
    bulk: BulkOptions = field(default_factory=BulkOptions)
    conflict_retries: int = 5
    # Append the id of every document as it is encoded, one a line (an audit of what a
    # run, or a killed and resumed pair of runs, encoded).
    audit: Path | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.page < 1:
            raise ValueError("batch size and page size must be positive")
        if self.poll_seconds <= 0:
            raise ValueError(f"poll_seconds must be positive, got {self.poll_seconds}")


@dataclass
class _Todo:
    """A document to write; ``text`` is ``None`` for one a copy carries over without
    vectors (it has no text to encode)."""

    hit: Hit
    text: str | None
    digest: str


class Stopped(Exception):
    """The run was asked to stop (the report so far is on the enricher)."""


class Enricher:
    def __init__(
        self,
        adapter: EngineAdapter,
        plan: EnrichPlan,
        dense: DocumentDense | None,
        sparse: DocumentSparse | None,
        models: str,
        options: EnrichOptions = EnrichOptions(),
        checkpoint: Checkpoint | None = None,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        splitters: Splitters | None = None,
        pool: ChunkEncoder | None = None,
    ) -> None:
        """``pool`` runs the models elsewhere (an encoder pool); ``dense`` and ``sparse``
        still say which models are in use."""
        self.adapter = adapter
        self.plan = plan
        self.dense = dense if plan.dense_field else None
        self.sparse = sparse if plan.sparse_field else None
        self.models = models
        self.options = options
        self.checkpoint = checkpoint
        self.progress = progress
        self.stop = stop or threading.Event()
        self.report = EnrichReport(plan.strategy, plan.source, plan.target, plan.alias)
        self.writer = BulkWriter(adapter, plan.target, options.bulk)
        self.request = plan.request
        # Vectors as ingest makes them: splitting long texts for a passage field.
        fields = FieldMap(plan.dense_field, plan.sparse_field, plan.request.passages is not None)
        self.vectors = (
            VectorBuilder(fields, self.dense, self.sparse, options.pruning, splitters, pool)
            if self.dense is not None or self.sparse is not None
            else None
        )
        self.report.lengths = self.vectors.lengths if self.vectors is not None else {}
        self._state: dict[str, Any] = {}
        self._rereading = False
        # In place the scan reads only the text fields and the marker; a copy reads all.
        self._read: list[str] | bool = (
            [*self.request.text_fields, self.request.marker_field]
            if plan.strategy == "in-place"
            else True
        )

    # ------------------------------------------------------------------ the run

    def run(self) -> EnrichReport:
        state = self._resume_state()
        try:
            if not state:
                self._prepare()
                marks = dialect.watermarks(self.adapter, self.plan.source)
                self.adapter.refresh(self.plan.source)
                state = {"phase": "backfill", "marks": _keys(marks), "position": None}
                self._save(state)
            self._state = state
            self.report.total = self.adapter.count(self.plan.source)
            if state["phase"] == "backfill":
                self._backfill(state)
            if state["phase"] == "catch-up":
                self._catch_up_phase(state)
            if state["phase"] == "switch":
                self._switch(state)
            if self.options.follow:
                self._follow(state)
        except Stopped:
            self._finish(False)
            return self.report
        self._finish(True)
        if self.checkpoint is not None and not self.options.follow:
            self.checkpoint.clear()
        return self.report

    def _finish(self, done: bool) -> None:
        self.report.phase = "done" if done else self.report.phase
        self.report.tick()
        if self.progress:
            self.progress(self.report, True)

    def _identity(self) -> Json:
        return {
            "engine": self.adapter.url,
            "source": self.plan.source,
            "target": self.plan.target,
            "alias": self.plan.alias,
            "strategy": self.plan.strategy,
            "models": self.models,
            "text_fields": list(self.request.text_fields),
            "joiner": self.request.joiner,
        }

    def _resume_state(self) -> dict[str, Any] | None:
        if self.checkpoint is None or not self.options.resume:
            return None
        saved = self.checkpoint.load()
        if saved is None:
            return None
        if saved.get("identity") != self._identity():
            raise ValueError(
                f"the checkpoint {self.checkpoint.path} is for another run "
                f"({saved.get('identity')}); run without --resume to start over"
            )
        state: dict[str, Any] = dict(saved["state"])
        return state

    def _save(self, state: dict[str, Any]) -> None:
        if self.checkpoint is not None:
            self.checkpoint.save({"identity": self._identity(), "state": state})

    def _prepare(self) -> None:
        if self.plan.strategy == "reindex":
            assert self.plan.create_body is not None
            self.adapter.create_index(self.plan.target, self.plan.create_body)
        elif self.plan.properties:
            dialect.put_properties(self.adapter, self.plan.target, self.plan.properties)

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped

    # ------------------------------------------------------------------ phases

    def _backfill(self, state: dict[str, Any]) -> None:
        self.report.phase = "backfill"
        marks = _ints(state["marks"])
        if dialect.has_shard_doc(self.adapter):
            scan: PitScan | SeqNoScan = PitScan(
                self.adapter,
                self.plan.source,
                self._read,
                self.options.page,
                state["position"],
                on_restart=self._reread,
            )
        else:
            position = state.get("position") or {}
            scan = SeqNoScan(
                self.adapter,
                self.plan.source,
                self._read,
                upto=marks,
                after=_ints(position.get("after", {}))
                if position.get("kind") == "seq_no"
                else None,
                page=self.options.page,
            )
        try:
            self._pages(scan, state, "backfill")
        finally:
            scan.close()
        state.update(phase="catch-up", position=None, after=state["marks"])
        self._save(state)

    def _reread(self, why: str) -> None:
        """The backfill reads from the start again (a shard copy its point in time was
        on has gone): documents it already wrote come back as rechecked."""
        self._rereading = True
        self.report.scan_restarts += 1
        if self.progress:
            self.progress(self.report, False)

    def _catch_up_phase(self, state: dict[str, Any]) -> None:
        self.report.phase = "catch-up"
        for _ in range(_CATCH_UP_PASSES):
            wrote = self._pass(self.plan.source, state, "after")
            if not wrote:
                break
        state["phase"] = "switch" if self.plan.strategy == "reindex" else "follow"
        self._save(state)

    def _switch(self, state: dict[str, Any]) -> None:
        """Copy the source's last writes and point the alias at the copy, with the
        source briefly write-blocked so that nothing reaches it in between."""
        self.report.phase = "switch"
        alias = self.plan.alias
        assert alias is not None
        state["target_after"] = _keys(dialect.watermarks(self.adapter, self.plan.target))
        pointed = dialect.alias_exists(self.adapter, alias)
        if pointed != [self.plan.target]:
            state["write_block"] = self.plan.source  # --resume lifts it if the run is killed
            self._save(state)
            started = time.monotonic()
            dialect.block_writes(self.adapter, self.plan.source)
            try:
                self._copy_as_is(state)
                self._move_alias(alias, pointed)
            finally:
                dialect.lift_write_block(self.adapter, self.plan.source)
                self.report.write_pause_seconds += time.monotonic() - started
            state.pop("write_block")
            self._save(state)
        self.report.deleted += carry_deletes(
            self.adapter,
            self.plan.source,
            self.plan.target,
            self.request.marker_field,
            _ints(state["target_after"]),
            self.options.page,
        )
        # Writes the application made through the alias after the switch.
        self.report.phase = "catch-up"
        self._pass(self.plan.target, state, "target_after", in_place=True)
        state["phase"] = "follow"
        self._save(state)

    def _copy_as_is(self, state: dict[str, Any]) -> None:
        """Copy what the source took since the last pass, without vectors: with writes
        blocked what it holds is final, and nothing is encoded while they wait. The pass
        over the copy after the switch encodes these documents (they have no marker)."""
        found = self._since(self.plan.source, state["after"], True)
        if found is None:
            return
        scan, upto = found
        for hits in scan.pages():
            self.report.scanned += len(hits)
            items = [self._pending(_Todo(hit, None, ""), {}, copying=True) for hit in hits]
            for result in self.writer.send(items):
                if not result.ok:
                    self.report.failures.append(Failure(result.id, result.reason or "rejected"))
        state["after"] = _keys(upto)
        self._save(state)

    def _move_alias(self, alias: str, pointed: list[str]) -> None:
        """One atomic ``_aliases`` call: off the source, onto the copy as write index,
        keeping the alias's filter and routing."""
        options = dialect.aliases_of(self.adapter, self.plan.source).get(alias, {})
        keep = {
            k: v
            for k, v in options.items()
            if k in ("filter", "routing", "index_routing", "search_routing", "is_hidden")
        }
        actions: list[Json] = []
        if self.plan.source in pointed:
            actions.append({"remove": {"index": self.plan.source, "alias": alias}})
        actions.append(
            {"add": {"index": self.plan.target, "alias": alias, "is_write_index": True, **keep}}
        )
        dialect.update_aliases(self.adapter, actions)

    def _follow(self, state: dict[str, Any]) -> None:
        self.report.phase = "follow"
        key = "target_after" if self.plan.strategy == "reindex" else "after"
        while not self.stop.wait(self.options.poll_seconds):
            self._pass(self.plan.target, state, key, in_place=True)
            self.report.follow_passes += 1
            if self.progress:
                self.progress(self.report, False)
        raise Stopped

    def _pass(
        self,
        index: str,
        state: dict[str, Any],
        key: str,
        in_place: bool | None = None,
    ) -> int:
        """Read what ``index`` took since ``state[key]``; how many documents it wrote."""
        copying = self.plan.strategy == "reindex" and not in_place
        read: list[str] | bool = (
            True if copying else [*self.request.text_fields, self.request.marker_field]
        )
        found = self._since(index, state[key], read)
        if found is None:
            return 0
        scan, upto = found
        before = self.report.enriched
        self._pages(scan, None, self.report.phase, copying=copying)
        state[key] = _keys(upto)
        self._save(state)
        wrote = self.report.enriched - before
        if self.report.phase == "follow":
            self.report.followed += wrote
        else:
            self.report.caught_up += wrote
        return wrote

    def _since(
        self, index: str, marks: Mapping[str, Any], read: list[str] | bool
    ) -> tuple[SeqNoScan, dict[int, int]] | None:
        """A scan of what ``index`` took after ``marks`` up to its watermarks now (and
        those watermarks), refreshed so that it sees them; ``None`` if it took nothing."""
        after = _ints(marks)
        upto = dialect.watermarks(self.adapter, index)
        if all(upto[s] <= after.get(s, -1) for s in upto):
            return None
        self.adapter.refresh(index)
        scan = SeqNoScan(self.adapter, index, read, upto=upto, after=after, page=self.options.page)
        return scan, upto

    # ------------------------------------------------------------------ pages

    def _pages(
        self,
        scan: PitScan | SeqNoScan,
        state: dict[str, Any] | None,
        phase: str,
        copying: bool | None = None,
    ) -> None:
        copying = self.plan.strategy == "reindex" if copying is None else copying
        inflight: deque[tuple[Future[list[DocResult]], Json | None, dict[str, _Todo]]] = deque()
        concurrency = self.options.bulk.concurrency

        def settle(entry: tuple[Future[list[DocResult]], Json | None, dict[str, _Todo]]) -> None:
            future, position, todos = entry
            started = time.monotonic()
            results = future.result()
            self.report.stages.write += time.monotonic() - started
            self._settle(results, todos, copying)
            if state is not None and position is not None:
                state["position"] = position
                self._save(state)
            if self.progress:
                self.progress(self.report, False)

        with ThreadPoolExecutor(concurrency, thread_name_prefix="tandem-enrich") as pool:
            pages = iter(scan.pages())
            while True:
                self._check_stop()
                started = time.monotonic()
                hits = next(pages, None)
                self.report.stages.scan += time.monotonic() - started
                if hits is None:
                    break
                self.report.scanned += len(hits)
                todos = self._todo(hits, copying)
                items = self._encode(list(todos.values()), copying)
                while len(inflight) >= concurrency:
                    settle(inflight.popleft())
                inflight.append((pool.submit(self.writer.send, items), scan.position, todos))
            while inflight:
                settle(inflight.popleft())

    def _todo(self, hits: Sequence[Hit], copying: bool) -> dict[str, _Todo]:
        """The documents of a page that need vectors, by id."""
        todos: dict[str, _Todo] = {}
        for hit in hits:
            try:
                text = passage(hit.source, self.request.text_fields, self.request.joiner)
            except BadText as err:
                self.report.bad_text.append(Failure(hit.id, str(err)))
                if copying:
                    todos[hit.id] = _Todo(hit, None, "")
                continue
            if text.empty:
                self.report.no_text.append(hit.id)
                if copying:
                    todos[hit.id] = _Todo(hit, None, "")
                continue
            digest = text_hash(text.text)
            if not copying:
                marker = Marker.read(hit.source.get(self.request.marker_field))
                if marker is not None and marker.current(digest, self.models):
                    # After the backfill a pass also reads this run's own writes (each
                    # update takes a new _seq_no): those are rechecked, not unchanged.
                    if self.report.phase == "backfill" and not self._rereading:
                        self.report.unchanged += 1
                    else:
                        self.report.rechecked += 1
                    continue
            todos[hit.id] = _Todo(hit, text.text, digest)
        if copying and todos:
            todos = self._not_copied(todos)
        return todos

    def _not_copied(self, todos: dict[str, _Todo]) -> dict[str, _Todo]:
        """Leave out documents the target already holds from this very source version
        (a resumed copy)."""
        stored = dialect.mget(
            self.adapter,
            self.plan.target,
            list(todos),
            [self.request.marker_field],
            {i: t.hit.routing for i, t in todos.items()},
        )
        keep: dict[str, _Todo] = {}
        for doc_id, todo in todos.items():
            held = stored.get(doc_id)
            marker = Marker.read(held.source.get(self.request.marker_field)) if held else None
            if (
                marker is not None
                and marker.source_seq_no is not None
                and (
                    marker.source_seq_no >= todo.hit.seq_no
                    and marker.current(todo.digest, self.models)
                )
            ):
                self.report.unchanged += 1
                continue
            keep[doc_id] = todo
        return keep

    def _encode(self, todos: list[_Todo], copying: bool) -> list[Pending]:
        items = [self._pending(t, {}, copying) for t in todos if t.text is None]
        todos = [t for t in todos if t.text is not None]
        size = self.options.batch_size
        chunks = [todos[start : start + size] for start in range(0, len(todos), size)]
        began = time.monotonic()
        fields: list[list[Json]] = (
            self.vectors.fields_for_chunks([[t.text or "" for t in c] for c in chunks])
            if self.vectors
            else [[{} for _ in c] for c in chunks]
        )
        self.report.stages.encode += time.monotonic() - began
        for chunk, out in zip(chunks, fields, strict=True):
            self.report.encoded += len(chunk)
            self._audit(chunk)
            for todo, vectors in zip(chunk, out, strict=True):
                items.append(self._pending(todo, vectors, copying))
        return items

    def _audit(self, chunk: Sequence[_Todo]) -> None:
        if self.options.audit is None:
            return
        with self.options.audit.open("a") as out:
            out.write("".join(f"{t.hit.id}\n" for t in chunk))

    def _pending(self, todo: _Todo, vectors: Json, copying: bool) -> Pending:
        hit = todo.hit
        meta: Json = {"_index": self.plan.target, "_id": hit.id}
        if hit.routing:
            meta["routing"] = hit.routing
        if not copying:
            marker = Marker.now(todo.digest, self.models)
            meta.update(if_seq_no=hit.seq_no, if_primary_term=hit.primary_term)
            body = {"doc": {**vectors, self.request.marker_field: marker.as_source()}}
            return Pending.of(hit.id, body, {"update": meta})
        written = {"dense_field", "sparse_field", "marker_field"}
        drop = {getattr(self.request, name) for name in written}
        source = {k: v for k, v in hit.source.items() if k not in drop}
        source.update(vectors)
        marker = Marker.now(todo.digest, self.models, source_seq_no=hit.seq_no)
        if todo.text is not None:
            source[self.request.marker_field] = marker.as_source()
        return Pending.of(hit.id, source, {"index": meta})

    def _settle(
        self,
        results: Iterable[DocResult],
        todos: Mapping[str, _Todo],
        copying: bool,
    ) -> None:
        conflicted: list[_Todo] = []
        for result in results:
            if result.ok and todos[result.id].text is None:
                self.report.copied += 1  # carried over to the copy without vectors
            elif result.ok:
                self.report.enriched += 1
            elif result.status == 409:
                conflicted.append(todos[result.id])
            elif result.status == 404 and not copying:
                self.report.deleted += 1  # deleted since it was read
            else:
                self.report.failures.append(Failure(result.id, result.reason or "rejected"))
        if conflicted:
            self._redo(conflicted, copying)

    def _redo(self, conflicted: list[_Todo], copying: bool) -> None:
        """Re-read documents edited since they were read, and encode their new text."""
        for _ in range(self.options.conflict_retries):
            self.report.conflicts += len(conflicted)
            fresh = dialect.mget(
                self.adapter,
                self.plan.target,
                [t.hit.id for t in conflicted],
                [*self.request.text_fields, self.request.marker_field],
                {t.hit.id: t.hit.routing for t in conflicted},
            )
            self.report.deleted += len(conflicted) - len(fresh)
            todos = self._todo(list(fresh.values()), copying)
            if not todos:
                return
            items = self._encode(list(todos.values()), copying)
            results = self.writer.send(items)
            conflicted = []
            for result in results:
                if result.ok:
                    self.report.enriched += 1
                elif result.status == 409:
                    conflicted.append(todos[result.id])
                elif result.status == 404:
                    self.report.deleted += 1
                else:
                    self.report.failures.append(Failure(result.id, result.reason or "rejected"))
            if not conflicted:
                return
        for todo in conflicted:
            self.report.failures.append(
                Failure(
                    todo.hit.id,
                    "edited again on every retry; the next pass or --follow takes it up",
                )
            )


def _keys(marks: Mapping[int, int]) -> dict[str, int]:
    return {str(k): int(v) for k, v in marks.items()}


def _ints(marks: Mapping[str, Any]) -> dict[int, int]:
    return {int(k): int(v) for k, v in marks.items()}

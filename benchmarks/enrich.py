"""Enrich speed: in-place ``tandem enrich`` docs/s against encode-only docs/s, same documents.

Run from the repository root::

    python -m benchmarks.enrich [--docs N] [--engine opensearch|elasticsearch|URL] [--json]

The benchmark first writes SciFact abstracts into a plain index with the engine's
own Python client and bulk helper (a user's mapping: ``title`` and ``text`` as
``text``; on OpenSearch the index is created with ``index.knn: true`` so that an
HNSW field can be added in place). Enrich then runs in place as ``tandem enrich
--strategy in-place`` runs it: plan, add the fields, read the index page by page,
encode (dense and sparse), write conditional partial updates, and the catch-up
pass over what changed during the run. Encode-only runs the same encoders over
the same passages with the same batch size and writes nothing. Their ratio shows
how much of the reading and writing hides behind encoding (the target is at least
0.85); the report's stage times (scan, encode, waiting on writes) say where the
rest goes. The index is deleted at the end. Without ``--engine URL`` the
benchmark starts (or attaches to) a local engine through the launcher.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEFAULT_DATA,
    Clock,
    CpuUse,
    emit,
    log,
    machine_busy_seconds,
    process_cpu_seconds,
    read_jsonl,
)
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS, InputKind
from tandem.encoders.sparse import Pruning
from tandem.integration.clients import client_for
from tandem.integration.handle import EngineHandle
from tandem.integration.launcher import Launcher
from tandem.integration.specs import parse_kind
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.enrich.checkpoint import Checkpoint
from tandem.plugin.enrich.marker import models_id
from tandem.plugin.enrich.plan import EnrichRequest, plan
from tandem.plugin.enrich.report import EnrichReport
from tandem.plugin.enrich.run import Enricher, EnrichOptions
from tandem.plugin.enrich.texts import passage
from tandem.plugin.ingest.pipeline import DocumentDense, DocumentSparse

INDEX = "tandem-bench-enrich"
TEXT_FIELDS = ("title", "text")
JOINER = "\n"  # tandem enrich's default


@dataclass(frozen=True)
class EnrichBench:
    engine: str
    docs: int
    batch_size: int
    encode_only_docs_per_s: float
    enrich_docs_per_s: float
    enriched: int
    failures: int
    # Wall seconds of the enrich run, of its backfill (up to the last backfill write
    # settled), and the report's stage times: reading pages, encoding (with turning
    # vectors into JSON), waiting for bulk writes (they overlap encoding).
    seconds: float
    backfill_seconds: float
    scan_seconds: float
    encode_seconds: float
    write_wait_seconds: float
    # Encode-only runs before and after enrich; its rate is over the mean of the two.
    encode_only_seconds: float
    encode_only_passes: tuple[float, float]
    # Documents the catch-up pass read again: the run's own updates take new _seq_no.
    rechecked: int
    load_seconds: float
    # CPU seconds per wall second during each measurement: this process, the engine
    # (its process tree; None for an engine given by URL) and the rest of the machine.
    encode_only_cpu: dict[str, float | None]
    enrich_cpu: dict[str, float | None]

    @property
    def ratio(self) -> float:
        return self.enrich_docs_per_s / self.encode_only_docs_per_s

    @property
    def other_seconds(self) -> float:
        """Enrich time outside the three stages: planning, mapping, per-document work
        (text hash, markers, bulk bodies), checkpoints and the catch-up pass's checks."""
        staged = self.scan_seconds + self.encode_seconds + self.write_wait_seconds
        return self.seconds - staged


def user_documents(folder: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` SciFact abstracts as an application stores them (with ``_id``)."""
    docs: list[dict[str, Any]] = []
    for row in read_jsonl(folder / "corpus.jsonl"):
        if len(docs) >= count:
            break
        docs.append({"_id": str(row["_id"]), "title": row.get("title", ""), "text": row["text"]})
    return docs


def user_index_body(kind: EngineKind) -> dict[str, Any]:
    """The user's own mapping; ``index.knn`` (OpenSearch) lets enrich add HNSW in place."""
    settings: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0}
    if kind is EngineKind.OPENSEARCH:
        settings["knn"] = True
    return {
        "settings": {"index": settings},
        "mappings": {"properties": {"title": {"type": "text"}, "text": {"type": "text"}}},
    }


def _actions(index: str, docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        source = {k: v for k, v in doc.items() if k != "_id"}
        yield {"_index": index, "_id": doc["_id"], "_source": source}


def load_plain_index(client: Any, kind: EngineKind, index: str, docs: list[dict[str, Any]]) -> None:
    """Create ``index`` and bulk-write ``docs`` with the engine's own client, refreshed."""
    client.indices.delete(index=index, ignore_unavailable=True)
    client.indices.create(index=index, body=user_index_body(kind))
    if kind is EngineKind.OPENSEARCH:
        from opensearchpy import helpers as os_helpers

        os_helpers.bulk(client, _actions(index, docs), refresh=True)
    else:
        from elasticsearch import helpers as es_helpers

        es_helpers.bulk(client, _actions(index, docs), refresh=True)


def _tree_cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds of ``pid`` and every process below it (an engine may be a launcher
    process with the server as its child)."""
    if pid is None:
        return None
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree.update(children)
        frontier = children
    seconds = [process_cpu_seconds(p) for p in tree]
    known = [s for s in seconds if s is not None]
    return sum(known) if known else None


def _clock(engine_pid: int | None) -> Clock:
    return Clock(
        time.perf_counter(),
        time.process_time(),
        _tree_cpu_seconds(engine_pid),
        machine_busy_seconds(),
    )


def _cores(use: CpuUse) -> dict[str, float | None]:
    return {
        "benchmark": use.cores(use.client),
        "engine": use.cores(use.server),
        "others": use.cores(use.others),
    }


def _engine(engine: str) -> EngineHandle:
    if "://" not in engine:
        return Launcher(progress=log).up(parse_kind(engine))
    adapter = connect(engine)
    try:
        return EngineHandle(adapter.kind, adapter.capabilities.version_text, engine, "attached")
    finally:
        adapter.close()


def _encode_only(
    dense: DocumentDense, sparse: DocumentSparse, passages: list[str], batch_size: int
) -> None:
    for start in range(0, len(passages), batch_size):
        chunk = passages[start : start + batch_size]
        dense.encode(chunk, InputKind.DOCUMENT)
        sparse.encode(chunk, Pruning())


def _measured(action: Callable[[], object], engine_pid: int | None) -> CpuUse:
    before = _clock(engine_pid)
    action()
    return CpuUse.between(before, _clock(engine_pid))


def _both(a: CpuUse, b: CpuUse) -> CpuUse:
    def add(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else x + y

    return CpuUse(
        a.seconds + b.seconds, a.client + b.client, add(a.server, b.server), add(a.others, b.others)
    )


def _enrich(
    adapter: EngineAdapter,
    index: str,
    dense: DocumentDense,
    sparse: DocumentSparse,
    dims: int,
    batch_size: int,
) -> tuple[EnrichReport, float]:
    """The report of ``tandem enrich --strategy in-place`` on ``index``, and when its
    backfill's last write settled (seconds after the start)."""
    request = EnrichRequest(index, TEXT_FIELDS, dims, True, JOINER, strategy="in-place")
    backfill_end = [0.0]

    def progress(report: EnrichReport, final: bool) -> None:
        if report.phase == "backfill":
            backfill_end[0] = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="tandem-bench-enrich-") as folder:
        enricher = Enricher(
            adapter,
            plan(adapter, request),
            dense,
            sparse,
            models_id(KNOWN_MODELS["minilm"].name, KNOWN_MODELS["splade-tiny"].name),
            EnrichOptions(batch_size=batch_size),
            Checkpoint(Path(folder) / "checkpoint.json"),  # as the CLI keeps one
            progress=progress,
        )
        report = enricher.run()
    return report, max(0.0, backfill_end[0] - report.started)


def run(data: Path, count: int, engine: str, batch_size: int, index: str = INDEX) -> EnrichBench:
    docs = user_documents(data, count)
    passages = [passage(d, TEXT_FIELDS, JOINER).text for d in docs]  # what enrich encodes
    dense = load_dense(KNOWN_MODELS["minilm"])
    sparse = load_sparse(KNOWN_MODELS["splade-tiny"])
    dims = int(dense.encode([passages[0]]).shape[1])  # warms both sessions before timing
    sparse.encode([passages[0]])

    handle = _engine(engine)
    client = client_for(handle)
    adapter = connect(handle.url)
    try:
        kind = f"{adapter.kind.value} {adapter.capabilities.version_text}"
        log(f"loading {len(docs)} documents into a plain index {index} on {kind}")
        started = time.perf_counter()
        load_plain_index(client, adapter.kind, index, docs)
        load_seconds = time.perf_counter() - started

        # Encode-only before and after enrich, so that a change in the machine's load
        # during the run weighs on both sides alike.
        def encode() -> None:
            _encode_only(dense, sparse, passages, batch_size)

        log(f"encode-only: {len(docs)} documents, batch {batch_size}")
        first = _measured(encode, handle.pid)
        log(f"enrich in place: {index} on {kind}")
        outcome: list[tuple[EnrichReport, float]] = []
        enrich_cpu = _measured(
            lambda: outcome.append(_enrich(adapter, index, dense, sparse, dims, batch_size)),
            handle.pid,
        )
        report, backfill_seconds = outcome[0]
        log("encode-only again")
        second = _measured(encode, handle.pid)
        client.indices.delete(index=index, ignore_unavailable=True)
    finally:
        adapter.close()
        client.close()
    encode_only_cpu = _both(first, second)
    encode_only_seconds = encode_only_cpu.seconds / 2
    return EnrichBench(
        engine=kind,
        docs=len(docs),
        batch_size=batch_size,
        encode_only_docs_per_s=len(docs) / encode_only_seconds,
        enrich_docs_per_s=report.docs_per_second,
        enriched=report.enriched,
        failures=report.failed,
        seconds=report.seconds,
        backfill_seconds=backfill_seconds,
        scan_seconds=report.stages.scan,
        encode_seconds=report.stages.encode,
        write_wait_seconds=report.stages.write,
        encode_only_seconds=encode_only_seconds,
        encode_only_passes=(first.seconds, second.seconds),
        rechecked=report.rechecked,
        load_seconds=load_seconds,
        encode_only_cpu=_cores(encode_only_cpu),
        enrich_cpu=_cores(enrich_cpu),
    )


def _cpu_line(cpu: dict[str, float | None]) -> str:
    return ", ".join(f"{name} {'?' if v is None else f'{v:.2f}'}" for name, v in cpu.items())


def summary(result: EnrichBench) -> str:
    """The readable report: rates, ratio, and where the enrich run's seconds went."""
    before, after = result.encode_only_passes
    return (
        f"Enrich benchmark: {result.docs} SciFact documents in place in {result.engine}, "
        f"minilm + splade-tiny, batch {result.batch_size}, {os.cpu_count()} CPUs\n"
        f"  encode-only   {result.encode_only_docs_per_s:7.1f} docs/s  "
        f"({result.encode_only_seconds:.2f} s: mean of {before:.2f} s before enrich and "
        f"{after:.2f} s after)\n"
        f"  enrich        {result.enrich_docs_per_s:7.1f} docs/s  ({result.seconds:.2f} s; "
        f"enriched {result.enriched}/{result.docs}, failures: {result.failures})\n"
        f"  ratio         {result.ratio:7.2f}  (target >= 0.85)\n"
        f"  stages        scan {result.scan_seconds:.2f} s, encode {result.encode_seconds:.2f} s, "
        f"waiting on writes {result.write_wait_seconds:.2f} s, "
        f"other {result.other_seconds:.2f} s\n"
        f"  backfill      {result.backfill_seconds:.2f} s; after it "
        f"{result.seconds - result.backfill_seconds:.2f} s (catch-up re-read "
        f"{result.rechecked} of the run's own updates)\n"
        f"  cores used    encode-only: {_cpu_line(result.encode_only_cpu)}\n"
        f"                enrich:      {_cpu_line(result.enrich_cpu)}\n"
        f"  (loading the plain index took {result.load_seconds:.2f} s, not counted)"
        + _busy_warning(result)
    )


def _busy_warning(result: EnrichBench) -> str:
    checks = [("encode-only", result.encode_only_cpu)]
    if result.enrich_cpu["engine"] is not None:  # else the engine's work counts as others'
        checks.append(("enrich", result.enrich_cpu))
    limit = 0.05 * (os.cpu_count() or 1)
    busy = [name for name, cpu in checks if (cpu["others"] or 0.0) > limit]
    if not busy:
        return ""
    return (
        f"\n  warning: other processes used more than 5% of the cores during "
        f"{' and '.join(busy)}; the rates (and the ratio) are not reliable"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR folder")
    parser.add_argument("--docs", type=int, default=512, help="documents to enrich")
    parser.add_argument("--engine", default=EngineKind.OPENSEARCH.value)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print JSON (summary to stderr)")
    args = parser.parse_args()
    result = run(args.data, args.docs, args.engine, args.batch_size)
    extra = {"ratio": result.ratio, "other_seconds": result.other_seconds}
    emit(summary(result), {**asdict(result), **extra} if args.json else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Backfill on Ray against a single process: the same ingest, the same cores, one run.

Run from the repository root (needs the ``ray`` extra)::

    python -m benchmarks.ray_backfill [--docs N] [--engine opensearch|elasticsearch|URL]
        [--batch-size N] [--json]

Each variant ingests the same SciFact documents into a fresh index the way
``tandem index`` does (texts measured against each model's window, bulk writes
with retries, every acknowledgement awaited):

* ``single process``: the models in this process, onnxruntime on every core; run
  first and last, and the Ray variants are compared with the mean of the two;
* ``ray N x C``: a local Ray with N encoder workers of C CPUs each (--ray);
* ``replay``: the same ingest with the encoders replaced by the vectors the Ray run
  made (looked up per chunk): what the calling process and the engine can take
  when encoding costs nothing. It bounds how far adding Ray workers can go.

docs/s counts from the first document to the last acknowledgement; starting Ray
and the workers (model loading) is reported apart, as it is paid once per run.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_DATA, log
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.sparse import Pruning
from tandem.integration.launcher import Launcher
from tandem.integration.specs import parse_kind
from tandem.plugin.distributed.pool import EncoderPool, PoolOptions, import_ray, join_ray
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.spec import default_spec
from tandem.plugin.ingest.assemble import build_ingestor, ensure_index
from tandem.plugin.ingest.documents import Document, read_documents
from tandem.plugin.ingest.passages import Splitters
from tandem.plugin.ingest.pipeline import FieldMap, IngestOptions
from tandem.plugin.ingest.vectors import Chunk, ChunkEncoder, Encoded

INDEX = "tandem-bench-ray"
SHAPES = ((2, 1), (1, 2))  # (workers, CPUs each): this 2-core machine's two ways


@dataclass(frozen=True)
class Variant:
    name: str
    docs_per_s: float
    failures: int
    workers: int = 0
    worker_cpus: int = 0
    start_seconds: float = 0.0

    @property
    def per_worker(self) -> float:
        return self.docs_per_s / self.workers if self.workers else 0.0


@dataclass
class RayBench:
    engine: str
    docs: int
    batch_size: int
    cpus: int
    variants: list[Variant] = field(default_factory=list)

    def rate(self, name: str) -> float:
        return next(v.docs_per_s for v in self.variants if v.name == name)

    @property
    def single(self) -> float:
        runs = [v.docs_per_s for v in self.variants if v.name.startswith("single process")]
        return sum(runs) / len(runs)

    def ratios(self) -> dict[str, float]:
        return {
            f"{v.name} / single process": v.docs_per_s / self.single
            for v in self.variants
            if v.workers
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "single_docs_per_s": self.single,
            "ratios": self.ratios(),
            "per_worker_docs_per_s": {v.name: v.per_worker for v in self.variants if v.workers},
        }


class Recording:
    """An encoder pool's results kept per chunk, to replay them with no encoding."""

    def __init__(self, inner: ChunkEncoder) -> None:
        self.inner = inner
        self.kept: dict[tuple[str, ...], Encoded] = {}

    @property
    def width(self) -> int:
        return self.inner.width

    def encode_chunks(self, chunks: Sequence[Chunk], pruning: Pruning) -> list[Encoded]:
        out = self.inner.encode_chunks(chunks, pruning)
        for chunk, encoded in zip(chunks, out, strict=True):
            # A copy: Ray hands numpy arrays out of its object store, gone at shutdown.
            self.kept[_key(chunk)] = copy.deepcopy(encoded)
        return out


class Replay:
    def __init__(self, kept: dict[tuple[str, ...], Encoded], width: int) -> None:
        self.kept = kept
        self.width = width

    def encode_chunks(self, chunks: Sequence[Chunk], pruning: Pruning) -> list[Encoded]:
        return [self.kept[_key(c)] for c in chunks]


def _key(chunk: Chunk) -> tuple[str, ...]:
    return tuple(chunk.dense or chunk.sparse or ())


def _ingest(
    adapter: EngineAdapter,
    docs: list[Document],
    dense: Any,
    sparse: Any,
    batch_size: int,
    pool: ChunkEncoder | None,
) -> tuple[float, int]:
    spec = default_spec(INDEX, ("title", "text"), 384, True)
    adapter.delete_index(INDEX)
    ensure_index(adapter, spec, 384)
    ingestor = build_ingestor(
        adapter,
        INDEX,
        FieldMap.of(spec),
        dense,
        sparse,
        options=IngestOptions(batch_size=batch_size),
        splitters=Splitters.for_index(dense, sparse, None),
        pool=pool,
    )
    report = ingestor.run(docs)
    log(f"  {report.indexed} indexed, {len(report.failures)} failed in {report.seconds:.2f} s")
    return report.docs_per_second, len(report.failures)


def run(
    data: Path,
    count: int,
    engine: str,
    batch_size: int,
    shapes: Sequence[tuple[int, int]] = SHAPES,
) -> RayBench:
    docs = [r for r in read_documents(data) if isinstance(r, Document)][:count]
    url = engine if "://" in engine else Launcher(progress=log).up(parse_kind(engine)).url
    adapter = connect(url)
    bench = RayBench(
        f"{adapter.kind.value} {adapter.capabilities.version_text}",
        len(docs),
        batch_size,
        os.cpu_count() or 1,
    )
    dense_spec, sparse_spec = KNOWN_MODELS["minilm"], KNOWN_MODELS["splade-tiny"]
    ray = import_ray()
    try:
        dense, sparse = load_dense(dense_spec), load_sparse(sparse_spec)
        dense.encode([docs[0].passage()])  # warm both sessions before timing
        sparse.encode([docs[0].passage()])

        def single(label: str) -> None:
            log(f"{label}: {len(docs)} documents, batch {batch_size}")
            rate, failed = _ingest(adapter, docs, dense, sparse, batch_size, None)
            bench.variants.append(Variant(label, rate, failed))

        single("single process")
        recording: Recording | None = None
        join_ray(ray, None, log)  # a local Ray, or the cluster at RAY_ADDRESS
        for workers, cpus in shapes:
            started = time.perf_counter()
            options = PoolOptions(workers=workers, worker_cpus=cpus)
            with EncoderPool.start(dense_spec, sparse_spec, options=options, progress=log) as pool:
                start_seconds = time.perf_counter() - started
                assert pool.dense is not None
                pool.dense.encode([docs[0].passage()])  # warm every worker's sessions
                pool.encode_chunks(
                    [Chunk([docs[0].passage()], [docs[0].passage()])] * workers, Pruning()
                )
                name = f"ray {workers} x {cpus}"
                log(f"{name}: {len(docs)} documents")
                encoder: ChunkEncoder = pool
                if recording is None:
                    recording = Recording(pool)
                    encoder = recording
                rate, failed = _ingest(adapter, docs, pool.dense, pool.sparse, batch_size, encoder)
                bench.variants.append(Variant(name, rate, failed, workers, cpus, start_seconds))
        ray.shutdown()
        assert recording is not None
        log("replay: the Ray run's vectors, no encoding")
        replay = Replay(recording.kept, 2 * shapes[0][0])
        rate, failed = _ingest(adapter, docs, dense, sparse, batch_size, replay)
        bench.variants.append(Variant("replay (no encoding)", rate, failed))
        single("single process (again)")
        adapter.delete_index(INDEX)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        adapter.close()
    return bench


def summary(bench: RayBench) -> str:
    lines = [
        f"Backfill on Ray: {bench.docs} SciFact documents into {bench.engine}, minilm + "
        f"splade-tiny, batch {bench.batch_size}, {bench.cpus} CPUs (one run)",
    ]
    for v in bench.variants:
        extra = ""
        if v.workers:
            extra = (
                f"  ({v.docs_per_s / bench.single:.2f}x single process; "
                f"{v.per_worker:.1f} docs/s per worker; start {v.start_seconds:.1f} s)"
            )
        failed = f", {v.failures} failed" if v.failures else ""
        lines.append(f"  {v.name:<24} {v.docs_per_s:7.1f} docs/s{failed}{extra}")
    lines.append("  target: each Ray variant >= 0.9x single process")
    return "\n".join(lines)


def _shapes(text: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(n) for n in part.split("x")) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WORKERSxCPUS,..., got {text!r}") from None
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"expected WORKERSxCPUS,..., got {text!r}")
    return [(p[0], p[1]) for p in pairs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR folder")
    parser.add_argument("--docs", type=int, default=512, help="documents per variant")
    parser.add_argument("--engine", default=EngineKind.OPENSEARCH.value)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--shapes",
        type=_shapes,
        default=SHAPES,
        help="pools to try, WORKERSxCPUS comma-separated (default 2x1,1x2; on a cluster, "
        "with RAY_ADDRESS set, e.g. 64x1)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    bench = run(args.data, args.docs, args.engine, args.batch_size, args.shapes)
    print(json.dumps(bench.as_dict(), indent=2) if args.json else summary(bench))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

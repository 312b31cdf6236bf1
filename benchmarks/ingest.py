"""Ingest speed: end-to-end docs/s against encode-only docs/s, same documents, one run.

Run from the repository root::

    python -m benchmarks.ingest [--docs N] [--engine opensearch|elasticsearch|URL] [--json]

End-to-end means the whole ``tandem index`` path: read, encode (dense and
sparse), bulk-write with retries, and wait for every acknowledgement. Encode-only
runs the same encoders over the same documents with the same batch size and
writes nothing. Their ratio shows how much of the engine's work hides behind
encoding (the target is at least 0.85). Two more end-to-end runs price the length
report (every text measured against each model's window, as ``tandem index`` does)
and dense passages (long texts split, one vector per passage). Without
``--engine URL`` the benchmark starts (or attaches to) a local engine through the
launcher.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, log
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS, InputKind
from tandem.encoders.sparse import Pruning
from tandem.integration.launcher import Launcher
from tandem.integration.specs import parse_kind
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.spec import Passages, default_spec
from tandem.plugin.ingest.assemble import build_ingestor, ensure_index
from tandem.plugin.ingest.documents import Document, read_documents
from tandem.plugin.ingest.passages import Splitters
from tandem.plugin.ingest.pipeline import FieldMap, IngestOptions

INDEX = "tandem-bench-ingest"


@dataclass(frozen=True)
class IngestBench:
    engine: str
    docs: int
    batch_size: int
    encode_only_docs_per_s: float
    end_to_end_docs_per_s: float
    failures: int
    # The same ingest with partly filled bulk requests held until full (no time flush).
    unflushed_docs_per_s: float
    # What tandem index runs: texts measured against each model's window (the length
    # report), and the same with long texts split into dense passages.
    measured_docs_per_s: float = 0.0
    passages_docs_per_s: float = 0.0
    dense_passages: int = 0

    @property
    def ratio(self) -> float:
        return self.end_to_end_docs_per_s / self.encode_only_docs_per_s


def documents(folder: Path, count: int) -> list[Document]:
    docs = [r for r in read_documents(folder) if isinstance(r, Document)]
    return docs[:count]


def run(data: Path, count: int, engine: str, batch_size: int) -> IngestBench:
    docs = documents(data, count)
    dense = load_dense(KNOWN_MODELS["minilm"])
    sparse = load_sparse(KNOWN_MODELS["splade-tiny"])
    dense.encode([docs[0].passage()])  # warm both sessions before timing
    sparse.encode([docs[0].passage()])

    passages = [d.passage() for d in docs]
    log(f"encode-only: {len(docs)} documents, batch {batch_size}")
    started = time.perf_counter()
    for start in range(0, len(passages), batch_size):
        chunk = passages[start : start + batch_size]
        dense.encode(chunk, InputKind.DOCUMENT)
        sparse.encode(chunk, Pruning())
    encode_only = len(docs) / (time.perf_counter() - started)

    launcher = None
    if "://" in engine:
        url = engine
    else:
        launcher = Launcher(progress=log)
        url = launcher.up(parse_kind(engine)).url
    adapter = connect(url)
    rates = []
    try:
        spec = default_spec(INDEX, ("title", "text"), 384, True)
        log(f"end-to-end into {adapter.kind.value} {adapter.capabilities.version_text} at {url}")
        split = default_spec(INDEX, ("title", "text"), 384, True, passages=Passages())
        variants = [
            (spec, IngestOptions().flush_seconds, None),
            (spec, 1e9, None),
            (spec, IngestOptions().flush_seconds, Splitters.for_index(dense, sparse, None)),
            (split, IngestOptions().flush_seconds, Splitters.for_index(dense, sparse, Passages())),
        ]
        passages = 0
        for layout, flush, splitters in variants:
            adapter.delete_index(INDEX)
            ensure_index(adapter, layout, 384)
            options = IngestOptions(batch_size=batch_size, flush_seconds=flush)
            ingestor = build_ingestor(
                adapter,
                INDEX,
                FieldMap.of(layout),
                dense,
                sparse,
                options=options,
                splitters=splitters,
            )
            report = ingestor.run(docs)
            rates.append((report.docs_per_second, len(report.failures)))
            if "dense" in report.lengths:
                passages = report.lengths["dense"].passages
        adapter.delete_index(INDEX)
        kind = f"{adapter.kind.value} {adapter.capabilities.version_text}"
    finally:
        adapter.close()
    (flushed, failures), (unflushed, _), (measured, _), (split_rate, _) = rates
    return IngestBench(
        kind,
        len(docs),
        batch_size,
        encode_only,
        flushed,
        failures,
        unflushed,
        measured,
        split_rate,
        passages,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR folder")
    parser.add_argument("--docs", type=int, default=512, help="documents to ingest")
    parser.add_argument("--engine", default=EngineKind.OPENSEARCH.value)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = run(args.data, args.docs, args.engine, args.batch_size)
    if args.json:
        print(json.dumps({**asdict(result), "ratio": result.ratio}, indent=2))
        return 0
    print(
        f"Ingest benchmark: {result.docs} SciFact documents into {result.engine}, "
        f"minilm + splade-tiny, batch {result.batch_size}, {os.cpu_count()} CPUs\n"
        f"  encode-only   {result.encode_only_docs_per_s:7.1f} docs/s\n"
        f"  end-to-end    {result.end_to_end_docs_per_s:7.1f} docs/s  "
        f"(failures: {result.failures})\n"
        f"  ratio         {result.ratio:7.2f}  (target >= 0.85)\n"
        f"  without the time flush {result.unflushed_docs_per_s:7.1f} docs/s "
        f"(ratio {result.unflushed_docs_per_s / result.encode_only_docs_per_s:.2f})\n"
        f"  measuring lengths      {result.measured_docs_per_s:7.1f} docs/s "
        f"({result.measured_docs_per_s / result.end_to_end_docs_per_s:.2f} of end-to-end)\n"
        f"  with dense passages    {result.passages_docs_per_s:7.1f} docs/s "
        f"({result.passages_docs_per_s / result.end_to_end_docs_per_s:.2f} of end-to-end; "
        f"{result.dense_passages} passages for {result.docs} documents)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

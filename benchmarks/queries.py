"""Query latency: hybrid search and inference-free sparse against a plain BM25 query.

Run from the repository root::

    python -m benchmarks.queries [--engine opensearch|elasticsearch|URL] [--queries N] [--json]
                                 [--breakdown]

All through the same engine client, on the same SciFact queries, interleaved
query by query so that load on the machine hits every variant alike:

* **bm25**: one ``_search`` with Tandem's BM25 body (no encoding);
* **hybrid**: encode the query (minilm and splade-tiny), one ``_msearch``
  with BM25, kNN and sparse, fuse in the sidecar (RRF), paginate;
* **hybrid native**: the same, fused by the engine where it can (else skipped);
* **dense**: the minilm-encoded query alone, kNN on the dense field;
* **sparse (splade)**: SPLADE-encoded query on the sparse field;
* **sparse (idf)**: the inference-free query side, tokenizer plus an IDF table
  computed from the indexed corpus, on the same sparse field.

The corpus is the first ``--docs`` SciFact abstracts (default 1,000), indexed
once into ``tandem-bench-queries`` and reused while it holds that many.

``--breakdown`` adds each variant's time per stage (p50 and p99), in-process and
through the gRPC ``Search`` RPC of a ``tandem serve`` started for the run with its
query cache off; then hybrid again with the cache on, on the same queries and with
30% of them repeats, each labelled (:mod:`benchmarks.breakdown` says what each stage
covers). The in-process stages are always recorded: the marks cost a
context-variable lookup.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.breakdown import (
    GRPC,
    IN_PROCESS,
    NOTED,
    StageRow,
    grpc_sample,
    in_process_sample,
    rows,
    table,
)
from benchmarks.common import DEFAULT_DATA, load_queries, log, percentiles
from benchmarks.load import start_server
from tandem.client import ClientError, TandemClient
from tandem.encoders.idf import IdfQueryEncoder, IdfTable
from tandem.encoders.loader import load_dense, load_sparse, text_batcher
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.stages import note, stage
from tandem.integration.launcher import Launcher
from tandem.integration.specs import parse_kind
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.index.mapping import sparse_field_type
from tandem.plugin.index.spec import default_spec
from tandem.plugin.ingest.documents import Document, read_documents
from tandem.plugin.ingest.fill import fill_index, holds
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.request import SearchRequest
from tandem.plugin.search.rewriter import bm25_body
from tandem.plugin.search.searcher import Searcher

INDEX = "tandem-bench-queries"


@dataclass(frozen=True)
class Row:
    name: str
    p50_ms: float
    p99_ms: float
    mean_ms: float


@dataclass(frozen=True)
class QueryBench:
    engine: str
    docs: int
    queries: int
    rows: list[Row]
    stages: list[StageRow] = field(default_factory=list)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

    def ratios(self) -> dict[str, float]:
        """p50 of each variant over BM25's p50."""
        bm25 = self.row("bm25")
        assert bm25 is not None
        return {f"{r.name} / bm25 (p50)": r.p50_ms / bm25.p50_ms for r in self.rows if r != bm25}


def run(
    engine: str, docs_count: int, query_count: int, breakdown: bool = False, index: str = INDEX
) -> QueryBench:
    docs = [d for d in read_documents(DEFAULT_DATA) if isinstance(d, Document)][:docs_count]
    queries = load_queries(DEFAULT_DATA, query_count)
    dense = load_dense(KNOWN_MODELS["minilm"])
    splade = load_sparse(KNOWN_MODELS["splade-tiny"])
    url = engine if "://" in engine else Launcher(progress=log).up(parse_kind(engine)).url
    adapter = connect(url)
    try:
        spec = default_spec(index, ("title", "text"), 384, True)
        if not holds(adapter, index, len(docs)):
            log(f"indexing {len(docs):,} SciFact documents into {index}")
            fill_index(adapter, index, docs, dense, splade)
        sparse_type = sparse_field_type(spec, adapter.capabilities)
        tokenizer = text_batcher(KNOWN_MODELS["splade-tiny"])
        idf = IdfQueryEncoder(
            tokenizer,
            IdfTable.from_corpus(tokenizer, (d.passage() for d in docs)),
        )
        hybrid = Searcher(adapter, dense, splade, sparse_type)
        inference_free = Searcher(adapter, None, idf, sparse_type)

        def bm25(text: str) -> object:
            with stage("request build"):
                body = bm25_body(SearchRequest(index, text), adapter.capabilities)
            with stage("engine round trip"):
                response = adapter.search(index, body)
            note("engine took", float(response.get("took", 0)))
            return response

        variants: dict[str, Callable[[str], object]] = {
            "bm25": bm25,
            "hybrid (sidecar rrf)": lambda t: hybrid.search(
                index, t, SearchOptions(mode="sidecar")
            ),
            "hybrid (native rrf)": lambda t: hybrid.search(index, t, SearchOptions(mode="native")),
            "dense": lambda t: hybrid.search(index, t, SearchOptions(method="dense")),
            "sparse (splade)": lambda t: hybrid.search(index, t, SearchOptions(method="sparse")),
            "sparse (idf)": lambda t: inference_free.search(
                index, t, SearchOptions(method="sparse")
            ),
        }
        for name, variant in list(variants.items()):
            try:
                for text in queries[:5]:  # warm-up, and drop what the engine cannot do
                    variant(text)
            except CapabilityError as err:
                log(f"{name}: skipped ({err})")
                del variants[name]
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for text in queries:
            for name, variant in variants.items():
                samples[name].append(in_process_sample(partial(variant, text)))
        found = []
        stages: list[StageRow] = []
        for name, values in samples.items():
            p50, p99, mean = percentiles([s["total"] / 1000.0 for s in values])
            found.append(Row(name, p50, p99, mean))
            if breakdown:
                stages += rows(name, "in-process", values, (*IN_PROCESS, *NOTED, "rest", "total"))
        if breakdown:
            stages += _grpc_breakdown(url, queries, index)
        caps = adapter.capabilities
        return QueryBench(
            f"{caps.kind.value} {caps.version_text}", len(docs), len(queries), found, stages
        )
    finally:
        adapter.close()


GRPC_VARIANTS = {
    "bm25": SearchOptions(method="bm25"),
    "hybrid (sidecar rrf)": SearchOptions(mode="sidecar"),
    "hybrid (native rrf)": SearchOptions(mode="native"),
    "sparse (splade)": SearchOptions(method="sparse"),
}


REPEAT_RATE = 0.3


def with_repeats(queries: list[str], rate: float, seed: int = 7) -> list[str]:
    """``queries`` with about ``rate`` of the places taken by an earlier query, asked again."""
    rng = random.Random(seed)
    asked: list[str] = []
    fresh = iter(queries)
    while len(asked) < len(queries):
        if asked and rng.random() < rate:
            asked.append(rng.choice(asked))
        else:
            asked.append(next(fresh))
    return asked


def _grpc_breakdown(url: str, queries: list[str], index: str) -> list[StageRow]:
    """The queries through ``tandem serve``'s Search RPC, one client, interleaved.

    Every variant runs on a sidecar with the query cache off (each query's vectors are
    encoded, as the in-process rows do); then hybrid runs on a sidecar with the cache
    on, once on the same queries and once with 30% of them repeats."""
    found = _grpc_rows(url, queries, index, dict(GRPC_VARIANTS), "0", "")
    hybrid = {"hybrid (sidecar rrf)": GRPC_VARIANTS["hybrid (sidecar rrf)"]}
    found += _grpc_rows(url, queries, index, hybrid, "4096", ", cache on, no repeats")
    repeats = with_repeats(queries, REPEAT_RATE)
    label = f", cache on, {REPEAT_RATE:.0%} repeats"
    return found + _grpc_rows(url, repeats, index, hybrid, "4096", label)


def _grpc_rows(
    url: str,
    queries: list[str],
    index: str,
    variants: dict[str, SearchOptions],
    cache_entries: str,
    label: str,
) -> list[StageRow]:
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as folder:
        process, address = start_server(url, Path(folder), "--query-cache-entries", cache_entries)
        try:
            with TandemClient(address) as client:
                for name, options in list(variants.items()):
                    try:  # drop what the engine cannot do (the texts are not the measured ones)
                        client.search(index, f"warm-up {name}", options)
                    except ClientError as err:
                        log(f"{name} through gRPC: skipped ({err})")
                        del variants[name]
                samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
                for text in queries:
                    for name, options in variants.items():
                        samples[name].append(grpc_sample(client, index, text, options))
        finally:
            process.terminate()
            process.wait(30)
    return [
        row for name, values in samples.items() for row in rows(name + label, "grpc", values, GRPC)
    ]


def summary(result: QueryBench) -> str:
    lines = [
        f"Query latency on {result.engine}: {result.queries} SciFact queries, "
        f"{result.docs:,} documents, one client, same engine client for every variant",
        f"  {'variant':22} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}",
    ]
    lines += [
        f"  {r.name:22} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.mean_ms:8.2f}" for r in result.rows
    ]
    lines += [f"  {name:32} {value:6.2f}x" for name, value in result.ratios().items()]
    if result.stages:
        lines += [
            "Per stage (benchmarks/breakdown.py says what each covers):",
            table(result.stages),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--engine", default="opensearch", help="opensearch, elasticsearch or URL")
    parser.add_argument("--docs", type=int, default=1000, help="documents to index")
    parser.add_argument("--queries", type=int, default=200, help="queries to time")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="time per stage, in-process and through the gRPC Search RPC",
    )
    args = parser.parse_args(argv)
    result = run(args.engine, args.docs, args.queries, args.breakdown)
    if args.json:
        data: dict[str, Any] = {**asdict(result), "ratios": result.ratios()}
        print(json.dumps(data, indent=2))
        print(summary(result), file=sys.stderr)
    else:
        print(summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

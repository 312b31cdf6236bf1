"""Query latency: hybrid search and inference-free sparse against a plain BM25 query.

Run from the repository root::

    python -m benchmarks.queries [--engine opensearch|elasticsearch|URL] [--queries N] [--json]

All through the same engine client, on the same SciFact queries, interleaved
query by query so that load on the machine hits every variant alike:

* **bm25**: one ``_search`` with Tandem's BM25 body (no encoding);
* **hybrid**: encode the query (minilm and splade-tiny), one ``_msearch``
  with BM25, kNN and sparse, fuse in the sidecar (RRF), paginate;
* **hybrid native**: the same, fused by the engine where it can (else skipped);
* **sparse (splade)**: SPLADE-encoded query on the sparse field;
* **sparse (idf)**: the inference-free query side, tokenizer plus an IDF table
  computed from the indexed corpus, on the same sparse field.

The corpus is the first ``--docs`` SciFact abstracts (default 1,000), indexed
once into ``tandem-bench-queries`` and reused while it holds that many.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.common import DEFAULT_DATA, load_queries, log, percentiles
from tandem.encoders.idf import IdfQueryEncoder, IdfTable
from tandem.encoders.loader import load_dense, load_sparse, text_batcher
from tandem.encoders.registry import KNOWN_MODELS
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

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

    def ratios(self) -> dict[str, float]:
        """p50 of each variant over BM25's p50."""
        bm25 = self.row("bm25")
        assert bm25 is not None
        return {f"{r.name} / bm25 (p50)": r.p50_ms / bm25.p50_ms for r in self.rows if r != bm25}


def run(engine: str, docs_count: int, query_count: int) -> QueryBench:
    docs = [d for d in read_documents(DEFAULT_DATA) if isinstance(d, Document)][:docs_count]
    queries = load_queries(DEFAULT_DATA, query_count)
    dense = load_dense(KNOWN_MODELS["minilm"])
    splade = load_sparse(KNOWN_MODELS["splade-tiny"])
    url = engine if "://" in engine else Launcher(progress=log).up(parse_kind(engine)).url
    adapter = connect(url)
    try:
        spec = default_spec(INDEX, ("title", "text"), 384, True)
        if not holds(adapter, INDEX, len(docs)):
            log(f"indexing {len(docs):,} SciFact documents into {INDEX}")
            fill_index(adapter, INDEX, docs, dense, splade)
        sparse_type = sparse_field_type(spec, adapter.capabilities)
        tokenizer = text_batcher(KNOWN_MODELS["splade-tiny"])
        idf = IdfQueryEncoder(
            tokenizer,
            IdfTable.from_corpus(tokenizer, (d.passage() for d in docs)),
        )
        hybrid = Searcher(adapter, dense, splade, sparse_type)
        inference_free = Searcher(adapter, None, idf, sparse_type)

        def bm25(text: str) -> object:
            return adapter.search(
                INDEX, bm25_body(SearchRequest(INDEX, text), adapter.capabilities)
            )

        variants: dict[str, Callable[[str], object]] = {
            "bm25": bm25,
            "hybrid (sidecar rrf)": lambda t: hybrid.search(
                INDEX, t, SearchOptions(mode="sidecar")
            ),
            "hybrid (native rrf)": lambda t: hybrid.search(INDEX, t, SearchOptions(mode="native")),
            "sparse (splade)": lambda t: hybrid.search(INDEX, t, SearchOptions(method="sparse")),
            "sparse (idf)": lambda t: inference_free.search(
                INDEX, t, SearchOptions(method="sparse")
            ),
        }
        for name, variant in list(variants.items()):
            try:
                for text in queries[:5]:  # warm-up, and drop what the engine cannot do
                    variant(text)
            except CapabilityError as err:
                log(f"{name}: skipped ({err})")
                del variants[name]
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for text in queries:
            for name, variant in variants.items():
                started = time.perf_counter()
                variant(text)
                seconds[name].append(time.perf_counter() - started)
        rows = []
        for name, values in seconds.items():
            p50, p99, mean = percentiles(values)
            rows.append(Row(name, p50, p99, mean))
        caps = adapter.capabilities
        return QueryBench(f"{caps.kind.value} {caps.version_text}", len(docs), len(queries), rows)
    finally:
        adapter.close()


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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--engine", default="opensearch", help="opensearch, elasticsearch or URL")
    parser.add_argument("--docs", type=int, default=1000, help="documents to index")
    parser.add_argument("--queries", type=int, default=200, help="queries to time")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    result = run(args.engine, args.docs, args.queries)
    if args.json:
        data: dict[str, Any] = {**asdict(result), "ratios": result.ratios()}
        print(json.dumps(data, indent=2))
        print(summary(result), file=sys.stderr)
    else:
        print(summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""SciFact nDCG@10 per method and fusion mode, on one engine, full corpus.

Run from the repository root::

    python -m benchmarks.quality [--engine opensearch|elasticsearch|URL] [--json]

Indexes the whole BEIR SciFact corpus (5,183 abstracts; read in place from
``../shared/data/scifact``) with minilm and splade-tiny, unless an index of
that name already holds every document, then runs the 300 test queries with
BM25, dense, sparse, RRF and linear (min-max) fusion, in sidecar mode and, for
the fused methods, in native mode where the engine and its licence have it.
nDCG@10 comes from ir-measures (trec_eval's definition, graded gains), as in
``tandem eval``. The index is kept for the next run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_DATA, log
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.integration.launcher import Launcher
from tandem.integration.specs import parse_kind
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.evaluation.data import Dataset
from tandem.plugin.evaluation.metrics import relevance
from tandem.plugin.index.mapping import sparse_field_type
from tandem.plugin.index.spec import default_spec
from tandem.plugin.ingest.documents import Document
from tandem.plugin.ingest.fill import fill_index, holds
from tandem.plugin.ingest.progress import ProgressLine
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

INDEX = "tandem-bench-scifact"
METHODS = ("bm25", "dense", "sparse", "rrf", "linear")


def run(data: Path, engine: str) -> dict[str, Any]:
    dataset = Dataset.load(data)
    docs = [r for r in dataset.documents() if isinstance(r, Document)]
    queries = dataset.queries
    dense = load_dense(KNOWN_MODELS["minilm"])
    sparse = load_sparse(KNOWN_MODELS["splade-tiny"])
    url = engine if "://" in engine else Launcher(progress=log).up(parse_kind(engine)).url
    adapter = connect(url)
    spec = default_spec(INDEX, ("title", "text"), 384, True)
    try:
        if not holds(adapter, INDEX, len(docs)):
            log(f"indexing {len(docs):,} SciFact documents into {url}")
            report = fill_index(adapter, INDEX, docs, dense, sparse, ProgressLine())
            if report.failures:
                raise RuntimeError(f"{len(report.failures)} documents failed to index")
        searcher = Searcher(adapter, dense, sparse, sparse_field_type(spec, adapter.capabilities))
        results: dict[str, Any] = {}
        runs = [(m, "sidecar") for m in METHODS] + [(m, "native") for m in ("rrf", "linear")]
        for method, mode in runs:
            ranked: dict[str, dict[str, float]] = {}
            started = time.perf_counter()
            try:
                for qid, text in queries.items():
                    options = SearchOptions(method=method, mode=mode)  # type: ignore[arg-type]
                    hits = searcher.search(INDEX, text, options).hits
                    ranked[qid] = {h.id: float(len(hits) - r) for r, h in enumerate(hits)}
            except CapabilityError as err:
                log(f"{method} {mode}: not available here ({err})")
                continue
            name = (
                method
                if mode == "sidecar" or method in ("bm25", "dense", "sparse")
                else (f"{method} (native)")
            )
            results[name] = {
                "ndcg@10": relevance(ranked, dataset.qrels)["ndcg@10"],
                "ms_per_query": 1000 * (time.perf_counter() - started) / len(queries),
            }
            log(f"{name:16} nDCG@10 {results[name]['ndcg@10']:.4f}")
        caps = adapter.capabilities
        return {
            "engine": f"{caps.kind.value} {caps.version_text}",
            "documents": len(docs),
            "queries": len(queries),
            "methods": results,
        }
    finally:
        adapter.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact folder")
    parser.add_argument("--engine", default="opensearch", help="opensearch, elasticsearch or URL")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = run(args.data, args.engine)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"SciFact nDCG@10 on {result['engine']} ({result['documents']:,} documents, "
        f"{result['queries']} test queries; minilm, splade-tiny)"
    )
    for name, row in result["methods"].items():
        print(f"  {name:16} {row['ndcg@10']:.4f}   {row['ms_per_query']:6.1f} ms/query")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scale: BM25, dense, sparse and hybrid latency, recall against exact search, and the
engine's footprint, as one index grows from 10,000 to 1,000,000 documents.

Run from the repository root (docs/scale.md has the results and how to read them)::

    python -m benchmarks.scale [--engine opensearch|elasticsearch|URL]
                               [--sizes 10000,100000,1000000] [--real 20000]
                               [--queries 200] [--prune-k 10] [--out DIR] [--json]

The corpus (:mod:`benchmarks.scale.corpus`, :mod:`benchmarks.scale.grow`): ``--real``
docstrings and comments of the installed Python packages, encoded for real with
MiniLM and splade-tiny, then documents derived from them up to each size; queries are
held-out texts of the same kind. One index grows size by size; every size is
measured once it holds exactly that many documents.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.common import emit, log
from tandem.encoders.idf import IdfQueryEncoder, IdfTable
from tandem.encoders.loader import load_dense, load_sparse, text_batcher
from tandem.encoders.registry import KNOWN_MODELS
from tandem.integration.launcher import Launcher
from tandem.integration.specs import parse_kind
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.mapping import OPENSEARCH_SPARSE_VECTOR_REFUSAL, sparse_type_for
from tandem.plugin.index.spec import default_spec
from tandem.plugin.ingest.assemble import ensure_index
from tandem.plugin.ingest.fill import holds
from tandem.plugin.search.names import DEFAULT_WINDOW
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from .corpus import encode_texts, load_texts
from .exact import SparseIndex
from .grow import Grower
from .load import Store, grow_to
from .measure import (
    PrunedSplade,
    Reference,
    ScaleRun,
    SizeResult,
    Variant,
    footprint,
    local_rss,
    measure,
)
from .report import charts, summary

INDEX = "tandem-bench-scale"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def _variants(
    adapter: EngineAdapter,
    dense: Any,
    splade: Any,
    idf: IdfQueryEncoder,
    prune_k: int,
    dense_windows: list[int],
) -> list[Variant]:
    sparse_type = sparse_type_for(adapter.capabilities)
    full = Searcher(adapter, dense, splade, sparse_type)
    pruned = Searcher(adapter, None, PrunedSplade(splade, prune_k), sparse_type)
    free = Searcher(adapter, dense, idf, sparse_type)
    return [
        Variant("bm25", full, SearchOptions(method="bm25")),
        Variant("dense", full, SearchOptions(method="dense"), "dense"),
        *(
            Variant(f"dense (window {w})", full, SearchOptions(method="dense", window=w), "dense")
            for w in dense_windows
            if w != DEFAULT_WINDOW
        ),
        Variant("sparse (splade)", full, SearchOptions(method="sparse"), "sparse"),
        Variant(f"sparse (splade top {prune_k})", pruned, SearchOptions(method="sparse"), "sparse"),
        Variant("sparse (idf)", free, SearchOptions(method="sparse"), "sparse"),
        Variant("hybrid (rrf)", full, SearchOptions()),
        Variant("hybrid (rrf, idf sparse)", free, SearchOptions()),
        # auto fuses a one-shard OpenSearch index natively; the same through _msearch:
        Variant("hybrid (rrf, sidecar)", full, SearchOptions(mode="sidecar")),
        Variant("hybrid (rrf, idf sparse, sidecar)", free, SearchOptions(mode="sidecar")),
    ]


def run(args: argparse.Namespace) -> ScaleRun:
    texts = load_texts(args.real, args.queries, log)
    dense = load_dense(KNOWN_MODELS["minilm"])
    splade = load_sparse(KNOWN_MODELS["splade-tiny"])
    encoded = encode_texts(texts, dense, splade, ("minilm", "splade-tiny"), log)
    tokenizer = text_batcher(KNOWN_MODELS["splade-tiny"])
    idf = IdfQueryEncoder(tokenizer, IdfTable.from_corpus(tokenizer, texts.passages()))
    grower = Grower(texts, encoded, args.seed)
    url = (
        args.engine
        if "://" in args.engine
        else Launcher(progress=log).up(parse_kind(args.engine)).url
    )
    adapter = connect(url)
    caps = adapter.capabilities
    result = ScaleRun(
        f"{caps.kind.value} {caps.version_text}", encoded.count, args.queries, args.prune_k
    )
    if caps.kind is EngineKind.OPENSEARCH:
        result.not_measured["sparse (seismic)"] = OPENSEARCH_SPARSE_VECTOR_REFUSAL
    try:
        # Documents are the same in every run (seeded), so an index that holds exactly
        # the largest size can be measured again without writing it again.
        reuse = args.reuse and holds(adapter, args.index, max(args.sizes))
        if not reuse:
            adapter.delete_index(args.index)
            dims = encoded.dense.shape[1]
            ensure_index(adapter, default_spec(args.index, dims=dims), dims)
        variants = _variants(adapter, dense, splade, idf, args.prune_k, args.dense_windows)
        store = Store(max(args.sizes), encoded.dense.shape[1])
        for size in sorted(args.sizes):
            if reuse:
                log(f"regenerating {size:,} documents for exact scoring ({args.index} holds them)")
                seconds = grow_to(adapter, args.index, grower, store, size, log, write=False)
            else:
                log(f"growing {args.index} to {size:,} documents")
                seconds = grow_to(adapter, args.index, grower, store, size, log)
            log(f"  exact top {10} of {len(texts.queries)} queries over {size:,} documents")
            reference = Reference.of(
                store, SparseIndex.of(store.sparse), texts.queries, dense, splade
            )
            log(f"  timing {len(variants)} variants")
            rows = measure(variants, args.index, texts.queries, reference)
            result.sizes.append(
                SizeResult(size, seconds, rows, footprint(adapter, args.index, local_rss))
            )
            log(summary(result, last_only=True))
    finally:
        if not args.keep:
            adapter.delete_index(args.index)
        adapter.close()
    return result


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes are whole numbers separated by commas, got {value!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be at least 1, got {value!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--engine", default="opensearch", help="opensearch, elasticsearch or URL")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        help="index sizes, comma-separated (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--real", type=int, default=20_000, help="real texts to encode (default 20000)"
    )
    parser.add_argument("--queries", type=int, default=200, help="held-out queries (default 200)")
    parser.add_argument(
        "--prune-k", type=int, default=10, help="terms kept by the pruned SPLADE query (default 10)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the derived documents")
    parser.add_argument("--out", type=Path, help="folder for scale.json and the charts")
    parser.add_argument("--index", default=INDEX, help=f"index to grow (default {INDEX})")
    parser.add_argument("--keep", action="store_true", help="keep the index afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure an index that already holds the largest size (from --keep) without "
        "writing it again; only that size is measured",
    )
    parser.add_argument(
        "--dense-windows",
        type=_sizes,
        default=[DEFAULT_WINDOW],
        help=f"kNN candidate windows to measure (default {DEFAULT_WINDOW}, Tandem's); "
        "each other one adds a dense variant",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.real < 1 or args.queries < 1 or args.prune_k < 1:
        parser.error("--real, --queries and --prune-k must be at least 1")
    if args.reuse:
        args.sizes = [max(args.sizes)]
    started = time.perf_counter()
    result = run(args)
    log(f"done in {time.perf_counter() - started:,.0f} s")
    data: dict[str, Any] = asdict(result)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "scale.json").write_text(json.dumps(data, indent=2) + "\n")
        for path in charts(result, args.out):
            log(f"wrote {path}")
    emit(summary(result), data if args.json else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

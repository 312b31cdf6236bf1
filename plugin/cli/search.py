"""``tandem search QUERY --index NAME``: hybrid search from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.index.mapping import sparse_type_for
from tandem.plugin.search.hits import FusedHit
from tandem.plugin.search.names import METHODS, MODES, NORMALIZATIONS
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from .remote import add_server_arguments, client_for


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "search",
        help="search an index: BM25, dense, sparse, or fused (RRF / linear)",
        description=(
            "Encodes QUERY, sends every retriever in one _msearch and fuses the ranked lists "
            "in the sidecar (works on every engine and licence). With --server (or "
            "TANDEM_SERVER) a running sidecar does the work; otherwise this process loads "
            "the models and talks to --engine itself."
        ),
    )
    parser.add_argument("query", help="the user's query text")
    parser.add_argument("--index", required=True)
    parser.add_argument("--engine", default="opensearch", help="opensearch, elasticsearch or URL")
    parser.add_argument("--method", choices=METHODS, default="rrf")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, default="min_max")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="where rrf/linear fusion runs: native (the engine's own: OpenSearch hybrid query "
        "and pipeline, Elasticsearch retrievers where licensed), sidecar (one _msearch, fused "
        "here; keeps explain data), auto (native when possible and not explaining)",
    )
    parser.add_argument("--size", type=int, default=10, help="hits to show")
    parser.add_argument("--from", dest="start", type=int, default=0, help="offset (pagination)")
    parser.add_argument("--window", type=int, default=100, help="candidates per retriever")
    parser.add_argument("--dense", default="minilm", help="dense query model")
    parser.add_argument("--sparse", default="splade-tiny", help="sparse query model")
    parser.add_argument("--explain", action="store_true", help="show each retriever's rank/score")
    parser.add_argument("--json", action="store_true", help="print hits as JSON")
    add_server_arguments(parser, required=False)
    parser.set_defaults(handler=_search)


def _hit_json(hit: FusedHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "score": hit.score,
        "retrievers": {name: {"rank": s.rank, "score": s.score} for name, s in hit.sources.items()},
    }


def partial_note(timed_out: bool, shard_failures: Sequence[str]) -> str | None:
    """What to tell the user when the engine answered from part of the data."""
    if not timed_out and not shard_failures:
        return None
    causes = []
    if timed_out:
        causes.append("the engine timed out")
    if shard_failures:
        noun = "shard failure" if len(shard_failures) == 1 else "shard failures"
        causes.append(f"{len(shard_failures)} {noun}")
    lines = [f"partial results: {'; '.join(causes)}", *(f"  {f}" for f in shard_failures)]
    return "\n".join(lines)


def _search(args: argparse.Namespace) -> int:
    options = SearchOptions(
        method=args.method,
        start=args.start,
        size=args.size,
        window=args.window,
        normalization=args.normalization,
        mode=args.mode,
        # --json lists each retriever's rank and score: sidecar fusion keeps them
        explain=args.explain or (args.json and args.mode != "native"),
    )
    if args.server:
        with client_for(args) as client:
            remote = client.search(args.index, args.query, options)
        hits, meta = remote.hits, remote.metadata
        timing = (
            f"{remote.mode} fusion; queue {meta.queue_ms:.1f} ms, "
            f"inference {meta.inference_ms:.1f} ms, "
            f"engine {meta.engine_ms:.1f} ms, total {meta.total_ms:.1f} ms in the sidecar"
        )
        note = partial_note(remote.timed_out, remote.shard_failures)
    else:
        hits, timing, note = _search_here(args, options)
    if note is not None:
        print(note, file=sys.stderr)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits]))
        return 0
    print(f"{len(hits)} hits ({args.method}; {timing})", file=sys.stderr)
    for rank, hit in enumerate(hits, start=args.start + 1):
        line = f"{rank:>4}  {hit.score:10.5f}  {hit.id}"
        if args.explain:
            parts = [f"{n} #{s.rank} ({s.score:.4g})" for n, s in hit.sources.items()]
            line += "  [" + ", ".join(parts) + "]"
        print(line)
    return 0


def _search_here(
    args: argparse.Namespace, options: SearchOptions
) -> tuple[list[FusedHit], str, str | None]:
    wanted = options.retrievers
    dense = load_dense(resolve_spec(args.dense, ModelKind.DENSE)) if "dense" in wanted else None
    sparse = (
        load_sparse(resolve_spec(args.sparse, ModelKind.SPARSE)) if "sparse" in wanted else None
    )
    adapter = connect(engine_url(args.engine))
    try:
        sparse_type = sparse_type_for(adapter.capabilities)
        result = Searcher(adapter, dense, sparse, sparse_type).search(
            args.index, args.query, options
        )
    finally:
        adapter.close()
    timing = (
        f"{result.mode} fusion; encode {result.encode_ms:.1f} ms, "
        f"engine {result.engine_ms:.1f} ms, "
        f"fusion {result.fusion_ms:.1f} ms"
    )
    return result.hits, timing, partial_note(result.timed_out, result.shard_failures)

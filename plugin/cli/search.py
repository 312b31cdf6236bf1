"""``tandem search QUERY --index NAME``: hybrid search from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import grpc

from tandem.client import ClientError
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import EngineRequestError
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.index.mapping import sparse_type_for
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD
from tandem.plugin.search.diagnose import MissingField
from tandem.plugin.search.hits import FusedHit
from tandem.plugin.search.names import DEFAULT_WINDOW, METHODS, MODES, NORMALIZATIONS
from tandem.plugin.search.searcher import Searcher

from .remote import add_server_arguments, client_for, refuse_local_flags
from .search_input import FIELD_TERMS, SearchInput, search_input
from .search_output import Page, Timings, dump, lines, partial_note, summary
from .snippets import fetch_snippets
from .text_fields import SEARCH_DEFAULT, add_text_fields_argument

DEFAULT_ENGINE = "opensearch"
DEFAULT_DENSE = "minilm"
DEFAULT_SPARSE = "splade-tiny"

__all__ = ["partial_note", "register"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "search",
        help="search an index: BM25, dense, sparse, or fused (RRF / linear)",
        description=(
            "Encodes QUERY and runs the BM25, dense and sparse retrievers over --index, fused "
            "with RRF or a weighted sum: by the engine itself where it can (OpenSearch's hybrid "
            "query with its search pipeline inside the request, Elasticsearch's retrievers "
            "where licensed), else in one _msearch fused by Tandem, which keeps each "
            "retriever's rank and score for --explain. --filter clauses apply to every "
            "retriever; --dsl runs them inside your own query. With --server (or "
            "TANDEM_SERVER) a running sidecar does the work with its own engine and models; "
            "otherwise this process loads the models and talks to --engine itself, and shows "
            "each hit's title or the start of its text."
        ),
    )
    parser.add_argument(
        "query", nargs="?", metavar="QUERY", help="the user's query text (not with --dsl)"
    )
    parser.add_argument("--index", required=True, help="index, alias or pattern to search")
    parser.add_argument(
        "--engine",
        help=f"opensearch, elasticsearch or an engine URL (default: {DEFAULT_ENGINE}); "
        "not with --server",
    )
    parser.add_argument("--method", choices=METHODS, default="rrf")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, default="min_max")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="where rrf/linear fusion runs: native (the engine's own: OpenSearch hybrid query "
        "and pipeline, Elasticsearch retrievers where licensed), sidecar (one _msearch, fused "
        "by Tandem; keeps explain data), auto (native when possible and not explaining)",
    )
    parser.add_argument("--size", type=int, default=10, help="hits to show")
    parser.add_argument("--from", dest="start", type=int, default=0, help="offset (pagination)")
    parser.add_argument(
        "--window",
        type=int,
        help=f"candidates per retriever (default: {DEFAULT_WINDOW}, or --from + --size if larger)",
    )
    add_text_fields_argument(
        parser, "fields BM25 searches, boosts allowed", "--fields", default=SEARCH_DEFAULT
    )
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="JSON",
        help="an engine query clause every retriever must match, e.g. "
        '\'{"term": {"lang": "en"}}\'; repeat for more',
    )
    parser.add_argument(
        "--dsl",
        metavar="FILE",
        help='your own query JSON with one {"tandem": {"query": TEXT, ...}} clause where the '
        "hybrid search belongs ('-' reads stdin); replaces QUERY",
    )
    parser.add_argument(
        "--dense-field", help=f"the index's dense vector field (default: {DEFAULT_DENSE_FIELD})"
    )
    parser.add_argument(
        "--sparse-field", help=f"the index's sparse field (default: {DEFAULT_SPARSE_FIELD})"
    )
    parser.add_argument(
        "--dense", help=f"dense query model (default: {DEFAULT_DENSE}); not with --server"
    )
    parser.add_argument(
        "--sparse", help=f"sparse query model (default: {DEFAULT_SPARSE}); not with --server"
    )
    parser.add_argument("--explain", action="store_true", help="show each retriever's rank/score")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: mode, timings, partial, hits (the same with --server)",
    )
    add_server_arguments(parser, required=False)
    parser.set_defaults(handler=_search)


def _search(args: argparse.Namespace) -> int:
    if args.server:
        refuse_local_flags(args, "searches", "search")
    request = search_input(args)
    page = _search_remote(args, request) if args.server else _search_here(args, request)
    note = partial_note(page.timed_out, page.shard_failures)
    if note is not None:
        print(note, file=sys.stderr)
    explain = request.options.explain
    if args.json:
        print(dump(page, explain))
        return 0
    print(summary(page), file=sys.stderr)
    for line in lines(page, explain):
        print(line)
    return 0


def _search_here(args: argparse.Namespace, request: SearchInput) -> Page:
    options = request.options
    wanted = options.retrievers
    dense = (
        load_dense(resolve_spec(args.dense or DEFAULT_DENSE, ModelKind.DENSE))
        if "dense" in wanted
        else None
    )
    sparse = (
        load_sparse(resolve_spec(args.sparse or DEFAULT_SPARSE, ModelKind.SPARSE))
        if "sparse" in wanted
        else None
    )
    sparse_field = args.sparse_field or DEFAULT_SPARSE_FIELD
    adapter = connect(engine_url(args.engine or DEFAULT_ENGINE))
    try:
        sparse_type = (
            sparse_type_for(adapter.capabilities, sparse_field) if "sparse" in wanted else None
        )
        searcher = Searcher(
            adapter,
            dense,
            sparse,
            sparse_type,
            dense_field=args.dense_field or DEFAULT_DENSE_FIELD,
            sparse_field=sparse_field,
        )
        try:
            result = searcher.search(args.index, request.text, options, dsl=request.dsl)
        except MissingField as err:
            raise ValueError(err.message(FIELD_TERMS)) from None
        snippets = _snippets(adapter, args.index, result.hits, options.fields)
    finally:
        adapter.close()
    return Page(
        index=args.index,
        query=request.text,
        method=options.method,
        mode=result.mode,
        start=options.start,
        hits=result.hits,
        timings=Timings(
            result.encode_ms,
            result.engine_ms,
            result.encode_ms + result.engine_ms + result.fusion_ms,
        ),
        timed_out=result.timed_out,
        shard_failures=result.shard_failures,
        snippets=snippets,
    )


def _snippets(
    adapter: EngineAdapter, index: str, hits: list[FusedHit], fields: tuple[str, ...]
) -> dict[str, str]:
    try:
        return fetch_snippets(adapter, index, [h.id for h in hits], fields)
    except EngineRequestError as err:
        print(f"(no titles or snippets: {err})", file=sys.stderr)
        return {}


def _search_remote(args: argparse.Namespace, request: SearchInput) -> Page:
    """The same search by a running sidecar, with its engine and models."""
    options = request.options
    with client_for(args) as client:
        try:
            remote = client.search(
                args.index,
                "" if request.raw is not None else request.text,
                options,
                request.raw,
                dense_field=args.dense_field,
                sparse_field=args.sparse_field,
            )
        except ClientError as err:
            if err.code is grpc.StatusCode.FAILED_PRECONDITION:
                reworded = MissingField.reword(err.details, FIELD_TERMS)
                if reworded is not None:
                    raise ValueError(reworded) from None
            raise
    meta = remote.metadata
    return Page(
        index=args.index,
        query=request.text,
        method=options.method,
        mode=remote.mode,
        start=options.start,
        hits=remote.hits,
        timings=Timings(meta.queue_ms + meta.inference_ms, meta.engine_ms, meta.total_ms),
        server=args.server,
        timed_out=remote.timed_out,
        shard_failures=tuple(remote.shard_failures),
    )

"""``tandem enrich --index NAME --text FIELDS``: vectors for an index Tandem did not create."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.enrich.checkpoint import Checkpoint, default_path
from tandem.plugin.enrich.marker import DEFAULT_MARKER_FIELD, models_id
from tandem.plugin.enrich.plan import STRATEGIES, EnrichRequest, plan
from tandem.plugin.enrich.report import EnrichReport
from tandem.plugin.enrich.run import Enricher, EnrichOptions
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD
from tandem.plugin.ingest.bulk import BulkOptions
from tandem.plugin.ingest.progress import ProgressLine

from .remote import add_server_arguments
from .text_fields import parse_text_fields

NONE = "none"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "enrich",
        help="add dense and sparse vectors to an index that is already in an engine",
        description=(
            "Reads the documents of an existing index (your mapping, analyzers and write path "
            "stay), encodes the text of the named fields and writes the vectors, in place or "
            "into a copy behind an alias (see docs/enrich.md). Checks the index before writing "
            "anything. Each document gets a marker (text hash and model names), so a rerun "
            "skips what is current. --follow keeps going and enriches new writes. Exit code 1 "
            "when any document failed."
        ),
    )
    parser.add_argument("--index", required=True, help="the index, or an alias over one index")
    parser.add_argument(
        "--text",
        "--text-fields",
        dest="text_fields",
        required=True,
        metavar="F1,F2",
        help="fields whose text is encoded, joined in this order (dotted paths for objects)",
    )
    parser.add_argument(
        "--engine", default="opensearch", help="opensearch, elasticsearch, or a URL"
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: in place where the engine can add an HNSW field, else reindex",
    )
    parser.add_argument("--dense", default="minilm", help="dense model, or 'none'")
    parser.add_argument("--sparse", default="splade-tiny", help="sparse model, or 'none'")
    parser.add_argument("--int8", action="store_true", help="use int8 models")
    parser.add_argument("--dense-field", default=DEFAULT_DENSE_FIELD, help="dense vector field")
    parser.add_argument("--sparse-field", default=DEFAULT_SPARSE_FIELD, help="sparse field")
    parser.add_argument(
        "--marker-field", default=DEFAULT_MARKER_FIELD, help="per-document marker object"
    )
    parser.add_argument(
        "--joiner", default="\n", help="text between the fields' values (default: newline)"
    )
    parser.add_argument("--target", help="reindex: name of the new index (default NAME-tandem-N)")
    parser.add_argument(
        "--alias", help="reindex: alias to point at the new index when --index is not one"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from its checkpoint"
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="after the backfill, keep enriching new and edited documents until Ctrl-C",
    )
    parser.add_argument("--poll", type=float, default=1.0, help="--follow: seconds between passes")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file (default: in the cache)")
    parser.add_argument(
        "--dry-run", action="store_true", help="check the index and print the plan; write nothing"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="documents per encoder batch")
    parser.add_argument("--page", type=int, default=256, help="documents read per request")
    parser.add_argument("--bulk-docs", type=int, default=500, help="documents per bulk request")
    parser.add_argument("--concurrency", type=int, default=2, help="bulk requests in flight")
    parser.add_argument("--top-k", type=int, help="keep at most K sparse terms per document")
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")
    parser.add_argument("--failures", type=Path, help="write every failure to this JSONL file")
    parser.add_argument(
        "--audit",
        type=Path,
        metavar="FILE",
        help="append the id of each document to FILE as it is encoded",
    )
    add_server_arguments(parser, required=False)
    parser.set_defaults(handler=_enrich)


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _enrich(args: argparse.Namespace) -> int:
    text_fields = parse_text_fields(args.text_fields, boosts=False)
    if args.server:
        from .enrich_remote import enrich_remote

        return enrich_remote(args, text_fields)
    adapter = connect(engine_url(args.engine))
    try:
        return _enrich_here(args, adapter, text_fields)
    finally:
        adapter.close()


def _enrich_here(args: argparse.Namespace, adapter: Any, text_fields: tuple[str, ...]) -> int:
    dense = None if args.dense == NONE else resolve_spec(args.dense, ModelKind.DENSE)
    sparse = None if args.sparse == NONE else resolve_spec(args.sparse, ModelKind.SPARSE)
    suffix = "+int8" if args.int8 else ""
    models = models_id(
        dense.name + suffix if dense else None, sparse.name + suffix if sparse else None
    )
    checkpoint = Checkpoint(args.checkpoint or default_path(adapter.url, args.index))
    saved = checkpoint.load()
    dense_encoder = load_dense(dense, args.int8, progress=_say) if dense else None
    dims = int(dense_encoder.encode(["dimension probe"]).shape[1]) if dense_encoder else None
    target = args.target
    if args.resume and saved and saved.get("identity", {}).get("strategy") == "reindex":
        target = saved["identity"]["target"]
    request = EnrichRequest(
        args.index,
        text_fields,
        dims,
        sparse is not None,
        args.joiner,
        args.dense_field,
        args.sparse_field,
        args.marker_field,
        args.strategy,
        target,
        args.alias,
    )
    the_plan = plan(adapter, request, resuming=bool(args.resume and saved))
    _say(f"plan: {the_plan.describe()}")
    if args.dry_run:
        print(
            json.dumps(
                {
                    "strategy": the_plan.strategy,
                    "why": the_plan.why,
                    "source": the_plan.source,
                    "target": the_plan.target,
                    "alias": the_plan.alias,
                    "add": the_plan.properties,
                },
                indent=2,
            )
        )
        return 0
    if saved and not args.resume:
        _say(
            f"a checkpoint of an interrupted run exists ({checkpoint.path}); starting over "
            "(--resume continues it; documents already done are skipped by their markers)"
        )
    sparse_encoder = load_sparse(sparse, args.int8, progress=_say) if sparse else None
    line = ProgressLine(verb="enriched")
    stop = threading.Event()
    enricher = Enricher(
        adapter,
        the_plan,
        dense_encoder,
        sparse_encoder,
        models,
        EnrichOptions(
            batch_size=args.batch_size,
            page=args.page,
            resume=args.resume,
            follow=args.follow,
            poll_seconds=args.poll,
            pruning=Pruning(top_k=args.top_k),
            bulk=BulkOptions(max_docs=args.bulk_docs, concurrency=args.concurrency),
            audit=args.audit,
        ),
        checkpoint,
        progress=lambda report, final: line(report.snapshot(), final),
        stop=stop,
    )
    try:
        report = enricher.run()
    except KeyboardInterrupt:
        stop.set()
        report = enricher.report
        report.tick()
        if not args.follow:
            print(
                f"\ninterrupted in {report.phase}: enriched {report.enriched:,} so far; what "
                "was written stays. Run the same command with --resume to carry on.",
                file=sys.stderr,
            )
            _print_report(report, args)
            return 130
    return _print_report(report, args)


def _print_report(report: EnrichReport, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        where = (
            report.target
            if report.strategy == "in-place"
            else (f"{report.target} (copied from {report.source}; alias {report.alias} moved)")
        )
        print(
            f"enriched {report.enriched:,} in {where}: {report.unchanged:,} unchanged, "
            f"{len(report.no_text):,} without text, {len(report.bad_text):,} with non-text "
            f"fields, {report.failed:,} failed; {report.conflicts:,} edited while running were "
            f"re-read; {report.seconds:.1f} s ({report.docs_per_second:.1f} docs/s)"
        )
        if report.followed:
            print(f"followed: enriched {report.followed:,} written after the backfill")
        for label, items in (("no text", report.no_text[:20]),):
            for doc_id in items:
                print(f"  {label}: {doc_id}")
        for failure in [*report.bad_text, *report.failures][:20]:
            print(f"  {failure.id}: {failure.reason}")
    if args.failures:
        with args.failures.open("w") as out:
            for failure in [*report.bad_text, *report.failures]:
                out.write(json.dumps({"id": failure.id, "reason": failure.reason}) + "\n")
    return 1 if report.failures else 0

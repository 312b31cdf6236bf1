"""``tandem enrich --index NAME --text FIELDS``: vectors for an index Tandem did not create."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from tandem.encoders.passages import Lengths
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.enrich.checkpoint import (
    Checkpoint,
    default_path,
    lift_left_block,
    resumed_target,
)
from tandem.plugin.enrich.marker import DEFAULT_MARKER_FIELD, model_label, models_id
from tandem.plugin.enrich.plan import STRATEGIES, EnrichRequest, plan
from tandem.plugin.enrich.run import Enricher, EnrichOptions
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD
from tandem.plugin.ingest.bulk import BulkOptions
from tandem.plugin.ingest.passages import Splitters, length_lines
from tandem.plugin.ingest.progress import ProgressLine

from .encoding import Encoders, add_ray_arguments, check_ray_flags, encoders_for
from .passages import add_passage_arguments, passages_from
from .remote import add_server_arguments
from .search import DEFAULT_DENSE, DEFAULT_SPARSE
from .text_fields import parse_text_fields

NONE = "none"
BULK_DOCS = 500
BULK_CONCURRENCY = 2


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
        "--engine",
        help="opensearch (the default), elasticsearch, or a URL; not with --server",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: in place where the engine can add an HNSW field, else reindex",
    )
    parser.add_argument(
        "--dense",
        help=f"dense model (default {DEFAULT_DENSE}), or 'none'; with --server only 'none'",
    )
    parser.add_argument(
        "--sparse",
        help=f"sparse model (default {DEFAULT_SPARSE}), or 'none'; with --server only 'none'",
    )
    parser.add_argument("--int8", action="store_true", help="use int8 models; not with --server")
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
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint file (default: in the cache); not with --server (the sidecar keeps it)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check the index and print the plan; write nothing"
    )
    local = EnrichOptions()
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"documents per encoder batch (default {local.batch_size}); not with --server",
    )
    parser.add_argument(
        "--page",
        type=int,
        help=f"documents read per request (default {local.page}); not with --server",
    )
    parser.add_argument(
        "--bulk-docs",
        type=int,
        help=f"documents per bulk request (default {BULK_DOCS}); not with --server",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help=f"bulk requests in flight (default {BULK_CONCURRENCY}); not with --server",
    )
    parser.add_argument("--top-k", type=int, help="keep at most K sparse terms per document")
    add_passage_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")
    parser.add_argument("--failures", type=Path, help="write every failure to this JSONL file")
    parser.add_argument(
        "--audit",
        type=Path,
        metavar="FILE",
        help="append the id of each document to FILE as it is encoded; not with --server",
    )
    add_ray_arguments(parser)
    add_server_arguments(parser, required=False)
    parser.set_defaults(handler=_enrich)


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _enrich(args: argparse.Namespace) -> int:
    text_fields = parse_text_fields(args.text_fields, boosts=False)
    check_ray_flags(args)
    if args.server:
        from .enrich_remote import enrich_remote

        return enrich_remote(args, text_fields)
    adapter = connect(engine_url(args.engine or "opensearch"))
    try:
        return _enrich_here(args, adapter, text_fields)
    finally:
        adapter.close()


def _enrich_here(args: argparse.Namespace, adapter: Any, text_fields: tuple[str, ...]) -> int:
    dense_name, sparse_name = args.dense or DEFAULT_DENSE, args.sparse or DEFAULT_SPARSE
    dense = None if dense_name == NONE else resolve_spec(dense_name, ModelKind.DENSE)
    sparse = None if sparse_name == NONE else resolve_spec(sparse_name, ModelKind.SPARSE)
    models = models_id(
        model_label(dense.name, args.int8) if dense else None,
        model_label(sparse.name, args.int8) if sparse else None,
    )
    with encoders_for(args, dense, sparse, _say) as encoders:
        return _enrich_with(args, adapter, text_fields, models, encoders)


def _enrich_with(
    args: argparse.Namespace,
    adapter: Any,
    text_fields: tuple[str, ...],
    models: str,
    encoders: Encoders,
) -> int:
    checkpoint = Checkpoint(args.checkpoint or default_path(adapter.url, args.index))
    saved = checkpoint.load()
    dense_encoder, sparse_encoder = encoders.dense, encoders.sparse
    dims = encoders.dims()
    target = resumed_target(saved, args.resume, args.target)
    request = EnrichRequest(
        args.index,
        text_fields,
        dims,
        sparse_encoder is not None,
        args.joiner,
        args.dense_field,
        args.sparse_field,
        args.marker_field,
        args.strategy,
        target,
        args.alias,
        passages=passages_from(args),
    )
    lifted = lift_left_block(adapter, saved, args.resume)
    if lifted:
        _say(f"lifted the write block the interrupted run's switch left on {lifted!r}")
    the_plan = plan(adapter, request, resuming=bool(args.resume and saved))
    _say(f"plan: {the_plan.describe()}")
    if args.dry_run:
        print(json.dumps(the_plan.summary(), indent=2))
        return 0
    if saved and not args.resume:
        _say(
            f"a checkpoint of an interrupted run exists ({checkpoint.path}); starting over "
            "(--resume continues it; documents already done are skipped by their markers)"
        )
    line = ProgressLine(verb="enriched")
    stop = threading.Event()
    enricher = Enricher(
        adapter,
        the_plan,
        dense_encoder,
        sparse_encoder,
        models,
        EnrichOptions(
            batch_size=_given(args.batch_size, EnrichOptions.batch_size),
            page=_given(args.page, EnrichOptions.page),
            resume=args.resume,
            follow=args.follow,
            poll_seconds=args.poll,
            pruning=Pruning(top_k=args.top_k),
            bulk=BulkOptions(
                max_docs=_given(args.bulk_docs, BULK_DOCS),
                concurrency=_given(args.concurrency, BULK_CONCURRENCY),
            ),
            audit=args.audit,
        ),
        checkpoint,
        progress=lambda report, final: line(report.snapshot(), final),
        stop=stop,
        splitters=Splitters.for_index(dense_encoder, sparse_encoder, request.passages),
        pool=encoders.pool,
    )
    terminated = threading.Event()

    def on_sigterm(_signum: int, _frame: object) -> None:
        """``kill`` or a container stop: stop after the page in hand, like Ctrl-C."""
        terminated.set()
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        report = enricher.run()
    except KeyboardInterrupt:
        stop.set()
        report = enricher.report
        report.tick()
        if not args.follow:
            return print_interrupted(report.as_dict(), report.phase, args, 130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if terminated.is_set() and not args.follow:
        return print_interrupted(report.as_dict(), report.phase, args, 143)
    return print_report(report.as_dict(), args)


def print_interrupted(
    report: dict[str, Any], phase: str, args: argparse.Namespace, code: int
) -> int:
    print(
        f"\ninterrupted in {phase}: enriched {report['enriched']:,} so far; what was written "
        "stays. Run the same command with --resume to carry on.",
        file=sys.stderr,
    )
    print_report(report, args)
    return code


def print_report(report: dict[str, Any], args: argparse.Namespace) -> int:
    """The final report (``EnrichReport.as_dict`` shape), as text or ``--json``; the exit
    code: 1 when any document failed."""
    problems = [*report["bad_text"], *report["failed"]]
    if args.json:
        print(json.dumps(report))
    else:
        where = (
            report["target"]
            if report["strategy"] == "in-place"
            else f"{report['target']} (copied from {report['source']}; alias {report['alias']} "
            "moved)"
        )
        print(
            f"enriched {report['enriched']:,} in {where}: {report['unchanged']:,} unchanged, "
            f"{len(report['no_text']):,} without text, {len(report['bad_text']):,} with "
            f"non-text fields, {len(report['failed']):,} failed; {report['conflicts']:,} edited "
            f"while running were re-read; {report['seconds']:.1f} s "
            f"({report['docs_per_second']:.1f} docs/s)"
        )
        if report["followed"]:
            print(f"followed: enriched {report['followed']:,} written after the backfill")
        lengths = {m: Lengths(**seen) for m, seen in report.get("lengths", {}).items()}
        for line in length_lines(lengths):
            print(line)
        for doc_id in report["no_text"][:20]:
            print(f"  no text: {doc_id}")
        for problem in problems[:20]:
            print(f"  {problem['id']}: {problem['reason']}")
    if args.failures:
        with args.failures.open("w") as out:
            for problem in problems:
                out.write(json.dumps({"id": problem["id"], "reason": problem["reason"]}) + "\n")
    return 1 if report["failed"] else 0

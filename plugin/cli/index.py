"""``tandem index DATA --index NAME``: encode documents and write them to an engine."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from tandem.client import ClientError, IndexProgress
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.index.fields import VectorFields, vector_fields
from tandem.plugin.index.spec import (
    DEFAULT_DENSE_FIELD,
    DEFAULT_SPARSE_FIELD,
    Bm25,
    Passages,
    default_spec,
)
from tandem.plugin.ingest.assemble import build_ingestor, ensure_index
from tandem.plugin.ingest.bulk import BulkOptions
from tandem.plugin.ingest.documents import BadLine, corpus_file, read_documents
from tandem.plugin.ingest.passages import Splitters, check_windows, length_lines
from tandem.plugin.ingest.pipeline import Failure, FieldMap, IngestOptions
from tandem.plugin.ingest.progress import ProgressLine, Snapshot

from .encoding import Encoders, add_ray_arguments, check_ray_flags, encoders_for
from .passages import add_passage_arguments, passages_from
from .remote import add_server_arguments, client_for, refuse_local_flags
from .search import DEFAULT_DENSE, DEFAULT_SPARSE
from .text_fields import add_text_fields_argument, parse_text_fields

NONE = "none"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "index",
        help="encode a JSONL file or BEIR corpus and write it to an engine",
        description=(
            "Reads DATA (a JSONL file of {_id|id, title, text, ...} objects, or a BEIR folder "
            "with corpus.jsonl), encodes each document with the dense and sparse models, and "
            "bulk-writes it with retries. Creates the index when it does not exist. Exit code 1 "
            "when any document failed; they are listed."
        ),
    )
    parser.add_argument("data", type=Path, help="JSONL file or BEIR corpus folder")
    parser.add_argument("--index", required=True, help="index name")
    parser.add_argument(
        "--engine",
        help="opensearch (the default), elasticsearch, or a URL; not with --server",
    )
    parser.add_argument(
        "--dense", help=f"dense model (default {DEFAULT_DENSE}), or 'none'; not with --server"
    )
    parser.add_argument(
        "--sparse",
        help=f"sparse model (default {DEFAULT_SPARSE}), or 'none'; not with --server",
    )
    parser.add_argument("--int8", action="store_true", help="use int8 models")
    parser.add_argument("--resume", action="store_true", help="skip ids already in the index")
    add_text_fields_argument(parser, "fields holding the text to encode and to search")
    parser.add_argument(
        "--analyzer",
        help="analyzer of the text fields when the index is created (default: english where "
        "the engine has it, else standard)",
    )
    parser.add_argument(
        "--bm25-k1", type=float, help="BM25 k1 of a new index (default: the engine's, 1.2)"
    )
    parser.add_argument(
        "--bm25-b", type=float, help="BM25 b of a new index (default: the engine's, 0.75)"
    )
    add_passage_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=32, help="documents per encoder batch")
    parser.add_argument("--bulk-docs", type=int, default=500, help="documents per bulk request")
    parser.add_argument("--bulk-mb", type=float, default=5.0, help="megabytes per bulk request")
    parser.add_argument("--concurrency", type=int, default=2, help="bulk requests in flight")
    parser.add_argument("--top-k", type=int, help="keep at most K sparse terms per document")
    parser.add_argument("--failures", type=Path, help="write every failure to this JSONL file")
    add_ray_arguments(parser)
    add_server_arguments(parser, required=False)
    parser.set_defaults(handler=_index)


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _count_lines(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def _index(args: argparse.Namespace) -> int:
    text_fields = parse_text_fields(args.text_fields, boosts=False)
    corpus = corpus_file(args.data)  # fail on a bad path before loading any model
    bm25 = _bm25(args)  # and on bad BM25 parameters
    passages = passages_from(args)
    check_ray_flags(args)
    if args.server:
        refuse_local_flags(args, "indexes", "index")
        return _index_remote(args, corpus, text_fields)
    dense_name, sparse_name = args.dense or DEFAULT_DENSE, args.sparse or DEFAULT_SPARSE
    dense_spec = None if dense_name == NONE else resolve_spec(dense_name, ModelKind.DENSE)
    sparse_spec = None if sparse_name == NONE else resolve_spec(sparse_name, ModelKind.SPARSE)
    with encoders_for(args, dense_spec, sparse_spec, _say) as encoders:
        return _index_here(args, corpus, text_fields, bm25, passages, encoders)


def _index_here(
    args: argparse.Namespace,
    corpus: Path,
    text_fields: tuple[str, ...],
    bm25: Bm25 | None,
    passages: Passages | None,
    encoders: Encoders,
) -> int:
    dense, sparse = encoders.dense, encoders.sparse
    dims = encoders.dims()
    adapter = connect(engine_url(args.engine or "opensearch"))
    try:
        line = ProgressLine()
        seen = [Snapshot(0, 0, 0, 0.0)]

        def watch(snapshot: Snapshot, final: bool) -> None:
            seen[0] = snapshot
            line(snapshot, final)

        spec = default_spec(
            args.index, text_fields, dims, sparse is not None, args.analyzer, bm25, passages
        )
        check_windows(dense, sparse, spec.passages)  # before the index exists
        layout = spec.passages
        fields = FieldMap.of(spec)
        if ensure_index(adapter, spec, dims):
            _say(f"created index {spec.name} on {adapter.url}")
        else:
            found = vector_fields(
                spec.name, adapter.get_mapping(spec.name), adapter.capabilities.kind
            )
            _say(f"index {spec.name} exists; writing into it{_layout_note(found, passages)}")
            layout = found.passages
            fields = FieldMap(
                found.dense if dense is not None else None,
                found.sparse if sparse is not None else None,
                found.passages is not None,
            )
        ingestor = build_ingestor(
            adapter,
            spec.name,
            fields,
            dense,
            sparse,
            pruning=Pruning(top_k=args.top_k),
            bulk=BulkOptions(
                max_docs=args.bulk_docs,
                max_bytes=int(args.bulk_mb * 1024 * 1024),
                concurrency=args.concurrency,
            ),
            options=IngestOptions(batch_size=args.batch_size, resume=args.resume),
            progress=watch,
            splitters=Splitters.for_index(dense, sparse, layout),
            pool=encoders.pool,
        )
        try:
            report = ingestor.run(read_documents(corpus, text_fields), total=_count_lines(corpus))
        except KeyboardInterrupt:
            _interrupted(seen[0])
            return 130
        adapter.refresh(args.index)
    finally:
        adapter.close()
    for line_text in length_lines(report.lengths):
        _say(line_text)
    return _report(report.indexed, report.skipped, report.failures, report.seconds, args.failures)


def _layout_note(found: VectorFields, asked: Passages | None) -> str:
    """What the existing index's layout means for this run, when the flags differ."""
    if found.passages is not None and asked is None:
        return " (it holds passages: long documents are split)"
    if found.passages is None and asked is not None and found.dense is not None:
        return (
            " (its dense field holds one vector per document, so --passages does not apply: "
            "long documents are truncated; index into a new index to split them)"
        )
    return ""


def _interrupted(last: Snapshot) -> None:
    """What an interrupted ingest had done, and how to carry on."""
    print(
        f"\ninterrupted: indexed {last.done:,}, skipped {last.skipped:,}, failed {last.failed:,} "
        "so far; what was indexed stays. Run the same command with --resume to carry on.",
        file=sys.stderr,
    )


def _report(
    indexed: int, skipped: int, failures: list[Failure], seconds: float, path: Path | None
) -> int:
    rate = indexed / seconds if seconds > 0 else 0.0
    print(
        f"indexed {indexed:,}, skipped {skipped:,} already stored, "
        f"failed {len(failures):,} in {seconds:.1f} s ({rate:.1f} docs/s)"
    )
    for failure in failures[:20]:
        print(f"  failed {failure.id}: {failure.reason}")
    if len(failures) > 20:
        print(f"  ... and {len(failures) - 20} more (--failures FILE lists them all)")
    if path:
        with path.open("w") as out:
            for failure in failures:
                out.write(json.dumps({"id": failure.id, "reason": failure.reason}) + "\n")
    return 1 if failures else 0


def _bm25(args: argparse.Namespace) -> Bm25 | None:
    """``--bm25-k1`` / ``--bm25-b`` (either alone keeps the engine's default for the other)."""
    if args.bm25_k1 is None and args.bm25_b is None:
        return None
    defaults = Bm25()
    return Bm25(
        defaults.k1 if args.bm25_k1 is None else args.bm25_k1,
        defaults.b if args.bm25_b is None else args.bm25_b,
    )


def _index_remote(args: argparse.Namespace, corpus: Path, text_fields: tuple[str, ...]) -> int:
    """The same ingest through a running sidecar's IndexDocuments stream."""
    started = time.monotonic()
    analyzer = {"analyzer": args.analyzer} if args.analyzer else {}
    spec: dict[str, Any] = {
        "name": args.index,
        "fields": [
            *({"name": f, "type": "text", **analyzer} for f in text_fields),
            {"name": DEFAULT_DENSE_FIELD, "type": "dense"},
            {"name": DEFAULT_SPARSE_FIELD, "type": "sparse"},
        ],
    }
    bm25 = _bm25(args)
    if bm25 is not None:
        spec["bm25"] = {"k1": bm25.k1, "b": bm25.b}
    passages = passages_from(args)
    if passages is not None:
        spec["passages"] = passages.as_dict()
    bad: list[Failure] = []
    total = _count_lines(corpus)
    with client_for(args) as client:
        try:
            client.create_index(spec)
            _say(f"created index {args.index} through {args.server}")
        except ClientError as err:
            if err.code is not grpc.StatusCode.ALREADY_EXISTS:
                raise
            _say(f"index {args.index} exists; writing into it")

        def documents() -> Iterator[dict[str, Any]]:
            for record in read_documents(corpus, text_fields):
                if isinstance(record, BadLine):
                    bad.append(Failure(record.id, record.reason))
                    continue
                yield {"_id": record.id, **record.text, **record.metadata}

        def progress(done: IndexProgress) -> None:
            seen[0] = Snapshot(
                done.indexed,
                done.failed + len(bad),
                done.skipped,
                time.monotonic() - started,
                total,
            )
            line(seen[0])

        line = ProgressLine()
        seen = [Snapshot(0, 0, 0, 0.0, total)]
        try:
            result = client.index_documents(
                args.index,
                documents(),
                args.resume,
                args.top_k or 0,
                text_fields,
                progress=progress,
            )
        except KeyboardInterrupt:
            _interrupted(seen[0])
            return 130
        line(seen[0], final=True)
    failures = bad + [
        Failure(i, reason) for i, status, reason in result.results if status == "failed"
    ]
    return _report(
        result.indexed, result.skipped, failures, time.monotonic() - started, args.failures
    )

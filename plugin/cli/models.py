"""``tandem models pull|list|export|encode``: encoder models without a server."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tandem.encoders.export_store import INT8_FILE, locate
from tandem.encoders.inventory import FOREIGN, cache_inventory
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.parity import SAMPLE_TEXTS, dense_parity, sparse_parity
from tandem.encoders.registry import KNOWN_MODELS, InputKind, ModelKind, ModelSpec, resolve_spec
from tandem.encoders.session import OnnxModel
from tandem.encoders.sources import describe_source, is_pulled, pull
from tandem.encoders.sparse import Pruning

from . import model_idf
from .vocabulary import KINDS, add_encode_arguments, dense_line, read_texts, sparse_line


def register(commands: Any) -> None:
    parser = commands.add_parser("models", help="pull, export and run encoder models")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    pull_cmd = verbs.add_parser("pull", help="fetch a checkpoint into the cache")
    pull_cmd.add_argument(
        "model", metavar="MODEL", help=f"{', '.join(KNOWN_MODELS)}, a hub id, or a folder"
    )
    pull_cmd.add_argument("--force", action="store_true", help="fetch again even if cached")
    pull_cmd.set_defaults(handler=_pull)

    list_cmd = verbs.add_parser(
        "list", help="show known models, pulled checkpoints and every export in the cache"
    )
    list_cmd.add_argument("--json", action="store_true", help="print JSON")
    list_cmd.set_defaults(handler=_list)

    export = verbs.add_parser(
        "export",
        help="export a checkpoint to ONNX (torch-free for BERT) and report parity",
    )
    export.add_argument(
        "source", metavar="MODEL", help="model name, hub id, or local checkpoint folder"
    )
    export.add_argument(
        "--kind", choices=KINDS, help="encoder: dense or sparse (default: the model's kind)"
    )
    export.add_argument("--int8", action="store_true", help="also write a per-channel int8 model")
    export.set_defaults(handler=_export)

    encode = verbs.add_parser("encode", help="encode texts in-process and print JSON lines")
    encode.add_argument(
        "model", metavar="MODEL", help=f"{', '.join(KNOWN_MODELS)}, a hub id, or a folder"
    )
    add_encode_arguments(encode, kind=None)
    encode.add_argument("--int8", action="store_true", help="use the int8 model")
    encode.add_argument("--threshold", type=float, default=0.0, help="sparse: drop weights below")
    encode.set_defaults(handler=_encode)

    model_idf.register(verbs)


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _spec(name: str, kind: str | None) -> ModelSpec:
    return resolve_spec(name, ModelKind(kind) if kind else None)


def _pull(args: argparse.Namespace) -> int:
    spec = resolve_spec(args.model)
    if args.force or not is_pulled(spec):
        _say(f"pulling {spec.name} from {describe_source(spec)}")
    print(pull(spec, force=args.force))
    return 0


def _megabytes(size: int | None) -> str:
    return f"{size / 1e6:.1f} MB" if size else "-"


def _list(args: argparse.Namespace) -> int:
    entries = cache_inventory()
    if args.json:
        print(json.dumps([asdict(e) for e in entries], indent=2))
        return 0
    print(f"{'MODEL':<28} {'KIND':<7} {'PULLED':<7} {'EXPORT':<8} {'ONNX':>9} {'INT8':>9}  PATH")
    for e in entries:
        pulled = "yes" if e.pulled else "no"
        export = "-" if e.state == "none" else e.state
        print(
            f"{e.name:<28} {e.kind:<7} {pulled:<7} {export:<8} {_megabytes(e.onnx_bytes):>9} "
            f"{_megabytes(e.int8_bytes):>9}  {e.path}"
        )
    if any(e.state == "stale" for e in entries):
        _say("stale: made from an earlier state of its checkpoint; delete its folder to free space")
    if any(e.state == "foreign" for e in entries):
        _say(f"foreign: {FOREIGN}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from tandem.encoders.bert_graph import build_bert_graph
    from tandem.encoders.export import export_bert
    from tandem.encoders.quantize import quantize_int8

    spec = _spec(args.source, args.kind)
    sparse = spec.kind is ModelKind.SPARSE
    checkpoint = pull(spec)
    folder = locate(spec, checkpoint)
    report = export_bert(checkpoint, folder.path, "mlm" if sparse else "base")
    folder.remember()
    fused = ", ".join(f"{op} {n}" for op, n in report.op_counts.items())
    print(f"model       {report.path}")
    print(f"size        {report.size_bytes / 1e6:.1f} MB")
    fusion = "fully fused" if report.fully_fused else "attention NOT fused"
    print(f"export time {report.seconds:.2f} s ({fusion})")
    print(f"ops         {fused}")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        raw.write_bytes(
            build_bert_graph(checkpoint, "mlm" if sparse else "base").SerializeToString()
        )
        reference = _outputs(spec, OnnxModel(raw))
    fp32 = _outputs(spec, OnnxModel(report.path))
    parity = sparse_parity(fp32, reference) if sparse else dense_parity(fp32, reference)
    print(f"parity      fused vs unfused graph: {parity}")
    if args.int8:
        quantized = folder.path / INT8_FILE
        quantize_int8(report.path, quantized)
        int8 = _outputs(spec, OnnxModel(quantized))
        parity = sparse_parity(int8, fp32) if sparse else dense_parity(int8, fp32)
        print(f"int8        {quantized} ({quantized.stat().st_size / 1e6:.1f} MB)")
        print(f"parity      int8 vs fp32: {parity}")
    return 0


def _outputs(spec: ModelSpec, model: OnnxModel) -> Any:
    """Encoder outputs on the built-in sample texts: dense vectors or SPLADE weights."""
    from tandem.encoders.dense import DenseEncoder
    from tandem.encoders.loader import text_batcher
    from tandem.encoders.sparse import SpladeEncoder, vocabulary_of

    batcher = text_batcher(spec)
    if spec.kind is ModelKind.SPARSE:
        return SpladeEncoder(spec, model, batcher, vocabulary_of(batcher)).weights(SAMPLE_TEXTS)
    return DenseEncoder(spec, model, batcher).encode(SAMPLE_TEXTS)


def _encode(args: argparse.Namespace) -> int:
    spec = _spec(args.model, args.kind)
    texts = read_texts(args.texts)
    if spec.kind is ModelKind.SPARSE:
        encoder = load_sparse(spec, args.int8, progress=_say)
        pruning = Pruning(threshold=args.threshold, top_k=args.top_k)
        for text, vector in zip(texts, encoder.encode(texts, pruning), strict=True):
            print(sparse_line(text, vector.as_dict()))
        return 0
    dense = load_dense(spec, args.int8, progress=_say)
    normalize = False if args.no_normalize else None
    for text, row in zip(texts, dense.encode(texts, InputKind(args.input), normalize), strict=True):
        print(dense_line(text, row))
    return 0

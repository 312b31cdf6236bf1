"""``tandem models pull|list|export|encode``: encoder models without a server."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tandem.encoders.loader import INT8_FILE, load_dense, load_sparse, onnx_dir
from tandem.encoders.parity import SAMPLE_TEXTS, dense_parity, sparse_parity
from tandem.encoders.registry import KNOWN_MODELS, InputKind, ModelKind, ModelSpec, resolve_spec
from tandem.encoders.session import OnnxModel
from tandem.encoders.sources import checkpoint_dir, describe_source, is_pulled, models_dir, pull
from tandem.encoders.sparse import Pruning


def register(commands: Any) -> None:
    parser = commands.add_parser("models", help="pull, export and run encoder models")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    pull_cmd = verbs.add_parser("pull", help="fetch a checkpoint into the cache")
    pull_cmd.add_argument("model", help=f"{', '.join(KNOWN_MODELS)}, a hub id, or a folder")
    pull_cmd.add_argument("--force", action="store_true", help="fetch again even if cached")
    pull_cmd.set_defaults(handler=_pull)

    list_cmd = verbs.add_parser("list", help="show known and cached models")
    list_cmd.add_argument("--json", action="store_true", help="print JSON")
    list_cmd.set_defaults(handler=_list)

    export = verbs.add_parser(
        "export",
        help="export a checkpoint to ONNX (torch-free for BERT) and report parity",
    )
    export.add_argument("source", help="model name, hub id, or local checkpoint folder")
    export.add_argument("--kind", choices=[k.value for k in ModelKind], help="dense or sparse")
    export.add_argument("--int8", action="store_true", help="also write a per-channel int8 model")
    export.set_defaults(handler=_export)

    encode = verbs.add_parser("encode", help="encode texts in-process and print JSON lines")
    encode.add_argument("model")
    encode.add_argument("texts", nargs="+", metavar="TEXT")
    encode.add_argument("--kind", choices=[k.value for k in ModelKind])
    encode.add_argument("--input", choices=[k.value for k in InputKind], default="document")
    encode.add_argument("--int8", action="store_true", help="use the int8 model")
    encode.add_argument("--top-k", type=int, help="sparse: keep at most this many terms")
    encode.add_argument("--threshold", type=float, default=0.0, help="sparse: drop weights below")
    encode.add_argument("--json", action="store_true", help="JSON lines (the only format)")
    encode.set_defaults(handler=_encode)


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


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


@dataclass(frozen=True)
class ModelRow:
    name: str
    kind: str
    pulled: bool
    onnx_bytes: int | None
    int8_bytes: int | None
    path: str


def _megabytes(size: int | None) -> str:
    return f"{size / 1e6:.1f} MB" if size else "-"


def _list(args: argparse.Namespace) -> int:
    names = dict.fromkeys(KNOWN_MODELS)
    if models_dir().is_dir():
        names.update(dict.fromkeys(p.name for p in sorted(models_dir().iterdir()) if p.is_dir()))
    rows = []
    for name in names:
        spec = KNOWN_MODELS.get(name) or resolve_spec(name.replace("--", "/"))
        onnx = onnx_dir(spec)
        rows.append(
            ModelRow(
                name,
                spec.kind.value,
                is_pulled(spec),
                _size(onnx / "model.onnx"),
                _size(onnx / INT8_FILE),
                str(checkpoint_dir(spec).parent),
            )
        )
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    print(f"{'MODEL':<28} {'KIND':<7} {'PULLED':<7} {'ONNX':>9} {'INT8':>9}  PATH")
    for r in rows:
        pulled = "yes" if r.pulled else "no"
        print(
            f"{r.name:<28} {r.kind:<7} {pulled:<7} {_megabytes(r.onnx_bytes):>9} "
            f"{_megabytes(r.int8_bytes):>9}  {r.path}"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    from tandem.encoders.bert_graph import build_bert_graph
    from tandem.encoders.export import export_bert
    from tandem.encoders.quantize import quantize_int8

    spec = _spec(args.source, args.kind)
    sparse = spec.kind is ModelKind.SPARSE
    checkpoint = pull(spec)
    report = export_bert(checkpoint, onnx_dir(spec), "mlm" if sparse else "base")
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
        quantized = onnx_dir(spec) / INT8_FILE
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
    if spec.kind is ModelKind.SPARSE:
        encoder = load_sparse(spec, args.int8, progress=_say)
        pruning = Pruning(threshold=args.threshold, top_k=args.top_k)
        for vector in encoder.encode(args.texts, pruning):
            print(json.dumps({"terms": {t: round(w, 6) for t, w in vector.as_dict().items()}}))
        return 0
    dense = load_dense(spec, args.int8, progress=_say)
    for row in dense.encode(args.texts, InputKind(args.input)):
        print(json.dumps({"vector": [round(float(x), 7) for x in row]}))
    return 0

"""``tandem encode TEXT...`` and ``tandem health``: talk to a running sidecar."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tandem.client.client import Kind

from .remote import add_server_arguments, client_for


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "encode",
        help="encode texts with a running sidecar (dense vectors or sparse terms)",
        description=(
            "Sends TEXT (or one text per stdin line with -) to the sidecar at --server "
            "(default localhost:50051) and prints one JSON object per text."
        ),
    )
    parser.add_argument("texts", nargs="+", help="texts to encode; '-' reads lines from stdin")
    parser.add_argument("--sparse", action="store_true", help="sparse terms instead of vectors")
    parser.add_argument("--query", action="store_true", help="encode as queries, not documents")
    parser.add_argument("--top-k", type=int, default=0, help="sparse: keep the K heaviest terms")
    parser.add_argument("--no-normalize", action="store_true", help="dense: skip L2 normalising")
    add_server_arguments(parser, required=True)
    parser.set_defaults(handler=_encode)


def _texts(raw: list[str]) -> list[str]:
    if raw == ["-"]:
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    return raw


def _encode(args: argparse.Namespace) -> int:
    texts = _texts(args.texts)
    kind: Kind = "query" if args.query else "document"
    with client_for(args) as client:
        if args.sparse:
            sparse = client.encode_sparse(texts, kind, top_k=args.top_k)
            for text, terms in zip(texts, sparse.vectors, strict=True):
                weights = {t.token or str(t.index): round(t.value, 6) for t in terms}
                print(json.dumps({"text": text, "sparse": weights}))
            meta = sparse.metadata
        else:
            dense = client.encode_dense(texts, kind, normalize=False if args.no_normalize else None)
            for text, vector in zip(texts, dense.vectors, strict=True):
                print(json.dumps({"text": text, "dense": [round(float(x), 7) for x in vector]}))
            meta = dense.metadata
    print(
        f"{len(texts)} texts, {meta.tokens} tokens; queue {meta.queue_ms:.1f} ms, "
        f"inference {meta.inference_ms:.1f} ms, total {meta.total_ms:.1f} ms",
        file=sys.stderr,
    )
    return 0


def register_health(commands: Any) -> None:
    parser = commands.add_parser(
        "health",
        help="check a running sidecar's gRPC health (exit 0 when SERVING)",
        description="Asks grpc.health.v1 at --server; prints the status; exit 1 unless SERVING.",
    )
    parser.add_argument("--service", default="", help="one service, e.g. tandem.v1.SearchService")
    add_server_arguments(parser, required=True)
    parser.set_defaults(handler=_health)


def _health(args: argparse.Namespace) -> int:
    with client_for(args, timeout=3.0) as client:
        status = client.health(args.service)
    print(status)
    return 0 if status == "SERVING" else 1

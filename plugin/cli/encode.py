"""``tandem encode TEXT...`` and ``tandem health``: talk to a running sidecar."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import grpc

from tandem.client import ClientError
from tandem.client.client import Kind
from tandem.encoders.registry import InputKind, ModelKind

from .remote import add_server_arguments, client_for, server_address
from .vocabulary import Deprecated, add_encode_arguments, dense_line, read_texts, sparse_line


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "encode",
        help="encode texts with a running sidecar (dense vectors or sparse terms)",
        description=(
            "Sends TEXT (or one text per stdin line with -) to the sidecar at --server "
            "(default localhost:50051) and prints one JSON object per text."
        ),
    )
    add_encode_arguments(parser, kind=ModelKind.DENSE.value)
    parser.add_argument(
        "--sparse", action=Deprecated, dest="kind", const="sparse", use="--kind sparse"
    )
    parser.add_argument(
        "--query", action=Deprecated, dest="input", const="query", use="--input query"
    )
    add_server_arguments(parser, required=True)
    parser.set_defaults(handler=_encode)


def _encode(args: argparse.Namespace) -> int:
    texts = read_texts(args.texts)
    kind: Kind = "query" if args.input == InputKind.QUERY.value else "document"
    with client_for(args) as client:
        if args.kind == ModelKind.SPARSE.value:
            sparse = client.encode_sparse(texts, kind, top_k=args.top_k or 0)
            for text, terms in zip(texts, sparse.vectors, strict=True):
                print(sparse_line(text, {t.token or str(t.index): t.value for t in terms}))
            meta = sparse.metadata
        else:
            dense = client.encode_dense(texts, kind, normalize=False if args.no_normalize else None)
            for text, vector in zip(texts, dense.vectors, strict=True):
                print(dense_line(text, vector))
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
        description=(
            "Asks grpc.health.v1 at --server about the whole sidecar (or one --service) and "
            "prints its status. Exit codes: 0 SERVING; 1 NOT_SERVING or no answer (nothing "
            "listening, a TLS mismatch: stderr says which); 2 usage errors (bad flags, "
            "unreadable files, an unknown --service)."
        ),
    )
    parser.add_argument("--service", default="", help="one service, e.g. tandem.v1.SearchService")
    add_server_arguments(parser, required=True)
    parser.set_defaults(handler=_health)


def _health(args: argparse.Namespace) -> int:
    try:
        with client_for(args, timeout=3.0) as client:
            status = client.health(args.service)
    except ClientError as err:
        if err.code is not grpc.StatusCode.NOT_FOUND:
            print(f"tandem: error: {err}", file=sys.stderr)
            return 1
        print(f"tandem: error: {_unknown_service(args)}", file=sys.stderr)
        return 2
    print(status)
    return 0 if status == "SERVING" else 1


def _unknown_service(args: argparse.Namespace) -> str:
    from tandem.plugin.server.app import ENCODE_SERVICES, ENGINE_SERVICES

    known = ", ".join((*ENCODE_SERVICES, *ENGINE_SERVICES))
    return (
        f"the sidecar at {server_address(args)} has no service {args.service!r}: --service "
        f"takes one of {known}, or nothing for the whole sidecar"
    )

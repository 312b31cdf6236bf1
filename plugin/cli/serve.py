"""``tandem serve``: run the gRPC sidecar until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from tandem.plugin.server.settings import add_arguments, from_namespace


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the gRPC sidecar (encode, index, search, rewrite)",
        description=(
            "Serves tandem.v1 over gRPC: dense and sparse encoding with dynamic batching, "
            "index creation and document streams, and hybrid search on the engine given by "
            "--engine. Every flag can also be set with the environment variable shown. "
            "SIGTERM drains in-flight requests, then stops."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    settings = from_namespace(args)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from tandem.plugin.server.app import serve  # grpc and the models load only here

    asyncio.run(serve(settings))
    return 0

"""``tandem serve``: run the gRPC sidecar until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from tandem.plugin.server.settings import add_arguments, from_namespace


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the gRPC sidecar (encode, index, search, rewrite)",
        description=(
            "Serves tandem.v1 over gRPC: dense and sparse encoding with dynamic batching, "
            "index creation and document streams, and hybrid search on the engine given by "
            "--engine. Every flag can also be set with the environment variable shown; a "
            "flag given on the command line wins over its variable. SIGTERM drains in-flight "
            "requests, then stops."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(handler=_serve)


def configure_logging(level: str) -> None:
    """``--log-level`` sets Tandem's own loggers (``tandem.*``); every other library logs
    at WARNING, or at ``level`` when that is higher. The engine clients (opensearch-py,
    elasticsearch-py and elastic_transport, urllib3) log one INFO line per engine request
    and request details at DEBUG; gRPC and asyncio add their own DEBUG chatter."""
    chosen = logging.getLevelName(level.upper())
    logging.basicConfig(
        level=max(chosen, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("tandem").setLevel(chosen)


def _serve(args: argparse.Namespace) -> int:
    settings = from_namespace(args)  # the TANDEM_* variables are read here, not before
    configure_logging(settings.log_level)
    from tandem.plugin.server.app import serve  # grpc and the models load only here
    from tandem.plugin.server.binding import StartError

    try:
        asyncio.run(serve(settings))
    except StartError as err:  # a port in use: one line naming the flag, no traceback
        print(f"tandem: error: {err}", file=sys.stderr)
        return 2
    return 0

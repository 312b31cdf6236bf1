"""The parser and the error handling of the ``tandem`` command.

Each command group lives in its own module and registers its subcommands on
the shared parser; ``main`` turns Tandem's own errors into one-line messages
and a non-zero exit code instead of tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tandem.client import ClientError
from tandem.encoders.sources import SourceError
from tandem.plugin.distributed import PoolError
from tandem.plugin.engines.errors import EngineRequestError

from . import (
    connect,
    demo,
    encode,
    engines,
    enrich,
    evaluation,
    index,
    indices,
    models,
    search,
    serve,
)
from .help import TandemParser

# Errors that are the user's to fix: printed as one line, exit code 2.
KNOWN_ERRORS: tuple[type[Exception], ...] = (
    *engines.ERRORS,
    *connect.ERRORS,
    EngineRequestError,
    SourceError,
    ClientError,
    ValueError,
    ImportError,
    FileNotFoundError,
    PoolError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = TandemParser(
        prog="tandem",
        description="Hybrid search sidecar for OpenSearch and Elasticsearch.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    engines.register(commands)
    models.register(commands)
    index.register(commands)
    enrich.register(commands)
    indices.register(commands)
    search.register(commands)
    serve.register(commands)
    encode.register(commands)
    encode.register_health(commands)
    evaluation.register(commands)
    demo.register(commands)
    connect.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KNOWN_ERRORS as err:
        print(f"tandem: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code

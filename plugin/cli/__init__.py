"""The ``tandem`` command line (:mod:`.app` builds it).

The command needs the ``server`` extra (encoders, engine clients); on a
client-only install ``tandem`` says which extra to install instead of failing
with an import traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

# Top-level modules that only the server extra brings.
SERVER_EXTRA = frozenset(
    {"onnxruntime", "tokenizers", "opensearchpy", "elasticsearch", "grpc_reflection",
     "prometheus_client"}
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The ``tandem`` argument parser, every command registered."""
    from .app import build_parser as build

    return build()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tandem`` with ``argv`` (default: the process's arguments); the exit code."""
    # gRPC core prints its own log lines (handshake failures) that the client verbs say in
    # one line of their own; it reads GRPC_VERBOSITY when grpc is imported, so before
    # anything imports it. `tandem serve` keeps them: they say why a port would not bind.
    if list(sys.argv[1:] if argv is None else argv)[:1] != ["serve"]:
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        from .app import main as run
    except ModuleNotFoundError as err:
        missing = (err.name or "").split(".")[0]
        if missing not in SERVER_EXTRA:
            raise
        print(
            f"tandem: error: the tandem command needs the server extra ({missing} is not "
            "installed): pip install 'tandem-search[server]'",
            file=sys.stderr,
        )
        return 2
    try:
        code = run(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except BrokenPipeError:
        # The reader went away (`tandem search ... | head`): send what is left to /dev/null
        # so that the final flush cannot raise again, and end as a shell does on SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code

"""Where the sidecar is: ``--server ADDR`` flags shared by the client verbs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tandem.client import TandemClient

DEFAULT_SERVER = "localhost:50051"


def add_server_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--server",
        default=os.environ.get("TANDEM_SERVER") if not required else None,
        help="sidecar address HOST:PORT [env TANDEM_SERVER]"
        + ("" if required else "; without it the work runs in this process"),
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        help="file holding the bearer token (or set TANDEM_TOKEN)",
    )
    parser.add_argument("--tls-ca", type=Path, help="CA bundle: connect with TLS")


def client_for(args: argparse.Namespace, timeout: float = 60.0) -> TandemClient:
    address = args.server or os.environ.get("TANDEM_SERVER") or DEFAULT_SERVER
    token = os.environ.get("TANDEM_TOKEN")
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
    return TandemClient(address, token=token, tls_ca=args.tls_ca, timeout=timeout)

"""Where the sidecar is and how to reach it: the flags every client verb shares.

``--server``, ``--token-file`` and the TLS flags are added here, and ``client_for`` is
the one place a verb gets its client, so every verb connects the same way and a failed
connection reads the same everywhere.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tandem.client import ClientError, TandemClient
from tandem.client.tls import read_pem

from .connection import Transport, explain

DEFAULT_SERVER = "localhost:50051"
# Flags that choose what this process loads and talks to; a sidecar has its own.
LOCAL_FLAGS = {"engine": "--engine", "dense": "--dense", "sparse": "--sparse"}


def _pem_file(value: str) -> Path:
    """An argparse type: a readable PEM file, or a usage error naming the flag."""
    try:
        read_pem(value)
    except (OSError, ValueError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return Path(value)


def add_server_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    group = parser.add_argument_group("sidecar connection")
    group.add_argument(
        "--server",
        default=os.environ.get("TANDEM_SERVER") if not required else None,
        help="sidecar address HOST:PORT [env TANDEM_SERVER]"
        + ("" if required else "; without it the work runs in this process"),
    )
    group.add_argument(
        "--token-file",
        type=Path,
        help="file holding the bearer token (or set TANDEM_TOKEN)",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, trusting the system's CAs (implied by the --tls-* flags)",
    )
    group.add_argument(
        "--tls-ca",
        type=_pem_file,
        metavar="PEM",
        help="CA bundle that signed the sidecar's certificate: connect with TLS",
    )
    group.add_argument(
        "--tls-cert",
        type=_pem_file,
        metavar="PEM",
        help="client certificate, for a sidecar that requires one (mutual TLS; with --tls-key)",
    )
    group.add_argument("--tls-key", type=_pem_file, metavar="PEM", help="key of --tls-cert")


def server_address(args: argparse.Namespace) -> str:
    """``--server``, else ``TANDEM_SERVER``, else the default."""
    return str(args.server or os.environ.get("TANDEM_SERVER") or DEFAULT_SERVER)


@contextmanager
def client_for(args: argparse.Namespace, timeout: float = 60.0) -> Iterator[TandemClient]:
    """A client for the sidecar the flags name; a failed connection inside the block
    becomes a ``ClientError`` whose message says what is wrong and what to do."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError(
            "--tls-cert and --tls-key go together: pass the client certificate and its key"
        )
    address = server_address(args)
    token = os.environ.get("TANDEM_TOKEN")
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
    tls = args.tls or args.tls_ca is not None or args.tls_cert is not None
    transport = Transport(address, tls=tls, client_cert=args.tls_cert)
    with TandemClient(
        address,
        token=token,
        tls=tls,
        tls_ca=args.tls_ca,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        timeout=timeout,
    ) as client:
        try:
            yield client
        except ClientError as err:
            line = explain(err.details, transport)
            if line is None:
                raise
            raise ClientError(err.code, line) from None


def refuse_local_flags(args: argparse.Namespace, does: str, do: str) -> None:
    """``--engine``, ``--dense`` and ``--sparse`` would be ignored with ``--server``: refuse.

    ``does``/``do`` name the work (``searches``/``search``, ``indexes``/``index``)."""
    given = [flag for dest, flag in LOCAL_FLAGS.items() if getattr(args, dest) is not None]
    if not given:
        return
    names = " and ".join(given)
    verb = "picks" if len(given) == 1 else "pick"
    raise ValueError(
        f"{names} {verb} what this process {does} with, but with --server (or "
        f"TANDEM_SERVER) the sidecar {does} with its own engine and models, set on "
        f"tandem serve: drop {names}, or {do} here without --server (and TANDEM_SERVER)"
    )

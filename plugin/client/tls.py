"""Channel credentials for the client: PEM files given as ``str`` or ``Path``, or the
system trust store.

gRPC takes PEM bytes and checks nothing until it connects: a missing or garbled file
used to surface as an ``AttributeError``, a handshake error, or (a certificate without
its key) an abort of the whole process. Here each file is read and checked up front, and
every error names the argument it came from.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import TypeAlias

import grpc

PathArg: TypeAlias = str | os.PathLike[str]


def read_pem(path: PathArg) -> bytes:
    """The bytes of a PEM file; ``FileNotFoundError``, ``OSError`` or ``ValueError`` saying
    which file and what is wrong with it."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except OSError as err:
        raise OSError(f"cannot read {path}: {err.strerror or err}") from None
    if b"-----BEGIN " not in data:
        raise ValueError(f"{path} is not a PEM file (no '-----BEGIN' line)")
    return data


def system_roots() -> bytes | None:
    """The CA bundle OpenSSL trusts on this machine (``SSL_CERT_FILE`` overrides it);
    ``None`` where there is no such file, which leaves gRPC its own bundled roots."""
    cafile = ssl.get_default_verify_paths().cafile
    return Path(cafile).read_bytes() if cafile else None


def _read(argument: str, path: PathArg) -> bytes:
    try:
        return read_pem(path)
    except (OSError, ValueError) as err:
        raise type(err)(f"{argument}: {err}") from None


def channel_credentials(
    *,
    tls: bool = False,
    tls_ca: PathArg | None = None,
    tls_cert: PathArg | None = None,
    tls_key: PathArg | None = None,
) -> grpc.ChannelCredentials | None:
    """TLS credentials, or ``None`` for plaintext.

    Any of the arguments turns TLS on. ``tls_ca`` is the CA bundle that signed the
    server's certificate; without it the server is checked against :func:`system_roots`.
    ``tls_cert`` and ``tls_key`` (both or neither) are the client's own certificate, for
    servers that require one (mutual TLS)."""
    if (tls_cert is None) != (tls_key is None):
        raise ValueError(
            "tls_cert and tls_key go together: pass the client certificate and its "
            "private key, or neither"
        )
    if not tls and tls_ca is None and tls_cert is None:
        return None
    roots = _read("tls_ca", tls_ca) if tls_ca is not None else system_roots()
    key = _read("tls_key", tls_key) if tls_key is not None else None
    cert = _read("tls_cert", tls_cert) if tls_cert is not None else None
    return grpc.ssl_channel_credentials(roots, key, cert)

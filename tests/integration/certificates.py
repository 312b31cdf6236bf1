"""Real certificates for TLS tests, made with the ``openssl`` command."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

_NAMES = "subjectAltName=DNS:localhost,IP:127.0.0.1"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def self_signed(folder: Path, name: str = "ca") -> tuple[Path, Path]:
    """``(key, cert)`` of a self-signed certificate for localhost; it can sign others."""
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
        "-addext", _NAMES, "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return key, cert


def signed(folder: Path, name: str, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    """``(key, cert)`` for localhost, signed by the CA ``ca_key``/``ca_cert``."""
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    extensions = folder / f"{name}.ext"
    extensions.write_text(_NAMES + "\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "1", "-extfile", str(extensions), "-out", str(cert),
    )  # fmt: skip
    return key, cert


@dataclass(frozen=True)
class Pki:
    """A CA, a server and a client certificate it signed, and a CA that signed neither."""

    ca: Path
    server_key: Path
    server_cert: Path
    client_key: Path
    client_cert: Path
    other_ca: Path


def make_pki(folder: Path) -> Pki:
    ca_key, ca = self_signed(folder, "ca")
    server_key, server_cert = signed(folder, "server", ca_key, ca)
    client_key, client_cert = signed(folder, "client", ca_key, ca)
    _, other_ca = self_signed(folder, "other-ca")
    return Pki(ca, server_key, server_cert, client_key, client_cert, other_ca)

"""``TandemClient``'s TLS path arguments: ``str`` or ``Path``, and errors that name them.

Channels connect lazily, so building a client here opens no connection; the real
handshakes are in tests/integration/test_sidecar_security.py and test_cli_tls.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tandem.client import TandemClient

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"tls_ca": tmp_path / "ca.pem", "tls_cert": tmp_path / "c.pem"}
    for path in paths.values():
        path.write_text(PEM)
    paths["tls_key"] = tmp_path / "c.key"
    paths["tls_key"].write_text(KEY)
    return paths


@pytest.mark.parametrize("kind", [str, Path])
def test_every_path_argument_takes_a_str_or_a_path(kind: type, files: dict[str, Path]) -> None:
    with TandemClient("localhost:1", tls_ca=kind(files["tls_ca"])):
        pass
    arguments = {name: kind(path) for name, path in files.items()}
    with TandemClient("localhost:1", **arguments):
        pass


@pytest.mark.parametrize("argument", ["tls_ca", "tls_cert", "tls_key"])
def test_a_missing_file_names_the_argument_and_the_path(
    argument: str, files: dict[str, Path], tmp_path: Path
) -> None:
    missing = str(tmp_path / "nowhere.pem")
    arguments: dict[str, Any] = {name: str(path) for name, path in files.items()}
    arguments[argument] = missing
    with pytest.raises(FileNotFoundError) as err:
        TandemClient("localhost:1", **arguments)
    assert str(err.value) == f"{argument}: no such file: {missing}"


def test_a_file_that_is_not_pem_names_the_argument(tmp_path: Path) -> None:
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a")
    with pytest.raises(ValueError, match=r"^tls_ca: .*ca\.der is not a PEM file"):
        TandemClient("localhost:1", tls_ca=der)


def test_a_client_certificate_needs_its_key(files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        TandemClient("localhost:1", tls_ca=files["tls_ca"], tls_cert=files["tls_cert"])
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        TandemClient("localhost:1", tls_key=str(files["tls_key"]))

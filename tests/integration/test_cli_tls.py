"""The ``tandem`` client verbs over TLS and mutual TLS, run as a user runs them.

Real sidecars (TLS, mTLS, plaintext) on real sockets, real certificates from
``openssl``, and the real command in a subprocess. A transport mismatch or a wrong
CA must end in one line from Tandem that says what to do, with no gRPC core log
lines around it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.plugin.server.embedded import EmbeddedSidecar

from .certificates import Pki, make_pki, self_signed
from .cli import tandem
from .sidecar import start_sidecar


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_sidecar(pki: Pki) -> Iterator[EmbeddedSidecar]:
    sidecar = start_sidecar(
        sparse="none", tls_cert=pki.server_cert, tls_key=pki.server_key, metrics_port=-1
    )
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="module")
def mtls_sidecar(pki: Pki) -> Iterator[EmbeddedSidecar]:
    sidecar = start_sidecar(
        sparse="none",
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.ca,
        metrics_port=-1,
    )
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="module")
def plain_sidecar() -> Iterator[EmbeddedSidecar]:
    sidecar = start_sidecar(dense="none", sparse="none", metrics_port=-1)
    yield sidecar
    sidecar.stop()


def _at(sidecar: EmbeddedSidecar) -> tuple[str, str]:
    return "--server", f"localhost:{sidecar.port}"


def _client_cert(pki: Pki) -> tuple[str, ...]:
    return "--tls-cert", str(pki.client_cert), "--tls-key", str(pki.client_key)


def _only_line(done: subprocess.CompletedProcess[str]) -> str:
    """stderr holds Tandem's one line and nothing else (no gRPC core log lines)."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tandem: error: "), done.stderr
    return lines[0]


def _encoded(done: subprocess.CompletedProcess[str]) -> list[float]:
    assert done.returncode == 0, done.stderr
    vector: list[float] = json.loads(done.stdout)["dense"]
    return vector


def test_health_and_encode_over_tls(tls_sidecar: EmbeddedSidecar, pki: Pki) -> None:
    health = tandem("health", *_at(tls_sidecar), "--tls-ca", str(pki.ca))
    assert (health.returncode, health.stdout, health.stderr) == (0, "SERVING\n", "")
    encoded = tandem("encode", *_at(tls_sidecar), "--tls-ca", str(pki.ca), "over tls")
    assert len(_encoded(encoded)) == 384


def test_health_and_encode_over_mutual_tls(mtls_sidecar: EmbeddedSidecar, pki: Pki) -> None:
    tls = ("--tls-ca", str(pki.ca), *_client_cert(pki))
    health = tandem("health", *_at(mtls_sidecar), *tls)
    assert (health.returncode, health.stdout, health.stderr) == (0, "SERVING\n", "")
    assert len(_encoded(tandem("encode", *_at(mtls_sidecar), *tls, "mutual"))) == 384


def test_tls_alone_verifies_the_sidecar_against_the_system_trust_store(
    tls_sidecar: EmbeddedSidecar, pki: Pki
) -> None:
    """``--tls`` trusts what OpenSSL trusts; SSL_CERT_FILE is OpenSSL's own way to say what."""
    trusted = tandem("health", *_at(tls_sidecar), "--tls", env={"SSL_CERT_FILE": str(pki.ca)})
    assert (trusted.returncode, trusted.stdout) == (0, "SERVING\n"), trusted.stderr
    elsewhere = tandem(
        "health", *_at(tls_sidecar), "--tls", env={"SSL_CERT_FILE": str(pki.other_ca)}
    )
    assert elsewhere.returncode == 1
    line = _only_line(elsewhere)
    assert "cannot verify the certificate" in line and "--tls-ca" in line


def test_plaintext_to_a_tls_port_says_to_connect_with_tls(tls_sidecar: EmbeddedSidecar) -> None:
    health = tandem("health", *_at(tls_sidecar))
    assert health.returncode == 1
    line = _only_line(health)
    assert "serves TLS" in line and "--tls-ca" in line and "Socket closed" not in line
    encode = tandem("encode", *_at(tls_sidecar), "text")
    assert encode.returncode == 2
    assert _only_line(encode) == line


def test_tls_to_a_plaintext_port_says_it_is_plaintext(
    plain_sidecar: EmbeddedSidecar, pki: Pki
) -> None:
    done = tandem("health", *_at(plain_sidecar), "--tls-ca", str(pki.ca))
    assert done.returncode == 1
    line = _only_line(done)
    assert "does not speak TLS" in line and "WRONG_VERSION_NUMBER" not in line


def test_a_wrong_ca_says_the_certificate_cannot_be_verified(
    tls_sidecar: EmbeddedSidecar, pki: Pki
) -> None:
    for verb in (("health",), ("encode", "text")):
        done = tandem(*verb, *_at(tls_sidecar), "--tls-ca", str(pki.other_ca))
        assert done.returncode == (1 if verb == ("health",) else 2)
        line = _only_line(done)
        assert "cannot verify the certificate" in line and "--tls-ca" in line


def test_mutual_tls_without_a_client_certificate_asks_for_one(
    mtls_sidecar: EmbeddedSidecar, pki: Pki
) -> None:
    done = tandem("health", *_at(mtls_sidecar), "--tls-ca", str(pki.ca))
    assert done.returncode == 1
    line = _only_line(done)
    assert "client certificate" in line and "--tls-cert" in line and "--tls-key" in line


def test_a_client_certificate_the_sidecar_does_not_trust_is_named(
    mtls_sidecar: EmbeddedSidecar, pki: Pki, tmp_path: Path
) -> None:
    key, cert = self_signed(tmp_path, "stranger")
    done = tandem(
        "health", *_at(mtls_sidecar), "--tls-ca", str(pki.ca),
        "--tls-cert", str(cert), "--tls-key", str(key),
    )  # fmt: skip
    assert done.returncode == 1
    line = _only_line(done)
    assert str(cert) in line and "--tls-client-ca" in line


def test_tls_files_are_checked_before_connecting(tmp_path: Path, pki: Pki) -> None:
    missing = str(tmp_path / "nowhere.pem")
    for flag in ("--tls-ca", "--tls-cert", "--tls-key"):
        done = tandem("health", "--server", "localhost:1", flag, missing)
        assert done.returncode == 2
        assert f"argument {flag}: no such file: {missing}" in done.stderr
    half = tandem("encode", "--server", "localhost:1", "--tls-cert", str(pki.client_cert), "x")
    assert half.returncode == 2
    assert "--tls-cert and --tls-key go together" in _only_line(half)

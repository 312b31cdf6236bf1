"""Bearer-token auth and TLS on a real sidecar."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.plugin.server.embedded import EmbeddedSidecar

from .sidecar import start_sidecar

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def authed() -> Iterator[EmbeddedSidecar]:
    sidecar = start_sidecar(sparse="none", auth_token=TOKEN, metrics_port=-1)
    yield sidecar
    sidecar.stop()


def test_requests_without_the_token_are_unauthenticated(authed: EmbeddedSidecar) -> None:
    with TandemClient(authed.address) as client:
        with pytest.raises(ClientError) as missing:
            client.encode_dense(["hello"])
        assert missing.value.code is grpc.StatusCode.UNAUTHENTICATED
        assert "Bearer" in missing.value.details
        with pytest.raises(ClientError) as info:
            client.info()
        assert info.value.code is grpc.StatusCode.UNAUTHENTICATED
        # health stays open for load balancers
        assert client.health() == "SERVING"


def test_a_wrong_token_is_refused_and_the_right_one_works(authed: EmbeddedSidecar) -> None:
    with TandemClient(authed.address, token="wrong") as client:
        with pytest.raises(ClientError) as wrong:
            client.encode_dense(["hello"])
        assert wrong.value.code is grpc.StatusCode.UNAUTHENTICATED
        # streaming RPCs are guarded too
        with pytest.raises(ClientError) as stream:
            client.index_documents("some-index", [{"_id": "1", "text": "x"}])
        assert stream.value.code is grpc.StatusCode.UNAUTHENTICATED
    with TandemClient(authed.address, token=TOKEN) as client:
        assert client.encode_dense(["hello"]).vectors.shape == (1, 384)


def _certificate(folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


def test_tls_serves_encrypted_and_refuses_plaintext(tmp_path: Path) -> None:
    key, cert = _certificate(tmp_path)
    sidecar = start_sidecar(sparse="none", tls_cert=cert, tls_key=key, metrics_port=-1)
    try:
        address = f"localhost:{sidecar.port}"
        with TandemClient(address, tls_ca=cert) as client:
            assert client.encode_dense(["over tls"]).vectors.shape == (1, 384)
        with TandemClient(address, timeout=5) as plain, pytest.raises(ClientError) as err:
            plain.encode_dense(["in the clear"])
        assert err.value.code is grpc.StatusCode.UNAVAILABLE
    finally:
        sidecar.stop()


def _signed(folder: Path, name: str, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    extensions = folder / f"{name}.ext"
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run = {"check": True, "capture_output": True}
    subprocess.run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
         "-keyout", str(key), "-out", str(csr)],
        **run,  # type: ignore[arg-type]
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "1", "-extfile", str(extensions), "-out", str(cert)],
        **run,  # type: ignore[arg-type]
    )  # fmt: skip
    return key, cert


def test_mutual_tls_requires_a_client_certificate(tmp_path: Path) -> None:
    ca_key, ca_cert = _certificate(tmp_path)  # a self-signed CA
    server_key, server_cert = _signed(tmp_path, "server", ca_key, ca_cert)
    client_key, client_cert = _signed(tmp_path, "client", ca_key, ca_cert)
    sidecar = start_sidecar(
        sparse="none",
        tls_cert=server_cert,
        tls_key=server_key,
        tls_client_ca=ca_cert,
        metrics_port=-1,
    )
    try:
        address = f"localhost:{sidecar.port}"
        with TandemClient(
            address, tls_ca=ca_cert, tls_cert=client_cert, tls_key=client_key
        ) as client:
            assert client.encode_dense(["mutual"]).vectors.shape == (1, 384)
        with TandemClient(address, tls_ca=ca_cert, timeout=5) as anonymous:
            with pytest.raises(ClientError) as refused:
                anonymous.encode_dense(["no client certificate"])
            assert refused.value.code is grpc.StatusCode.UNAVAILABLE
    finally:
        sidecar.stop()

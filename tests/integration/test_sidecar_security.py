"""Bearer-token auth and TLS on a real sidecar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.plugin.server.embedded import EmbeddedSidecar

from .certificates import make_pki, self_signed
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


def test_tls_serves_encrypted_and_refuses_plaintext(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path, "server")
    sidecar = start_sidecar(sparse="none", tls_cert=cert, tls_key=key, metrics_port=-1)
    try:
        address = f"localhost:{sidecar.port}"
        # a CA path may be a str, as the docs show, or a Path
        for ca in (str(cert), cert):
            with TandemClient(address, tls_ca=ca) as client:
                assert client.encode_dense(["over tls"]).vectors.shape == (1, 384)
        with TandemClient(address, timeout=5) as plain, pytest.raises(ClientError) as err:
            plain.encode_dense(["in the clear"])
        assert err.value.code is grpc.StatusCode.UNAVAILABLE
    finally:
        sidecar.stop()


def test_mutual_tls_requires_a_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    sidecar = start_sidecar(
        sparse="none",
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.ca,
        metrics_port=-1,
    )
    try:
        address = f"localhost:{sidecar.port}"
        # every path argument takes a str as well as a Path
        for to_path in (str, Path):
            with TandemClient(
                address,
                tls_ca=to_path(pki.ca),
                tls_cert=to_path(pki.client_cert),
                tls_key=to_path(pki.client_key),
            ) as client:
                assert client.encode_dense(["mutual"]).vectors.shape == (1, 384)
        with TandemClient(address, tls_ca=str(pki.ca), timeout=5) as anonymous:
            with pytest.raises(ClientError) as refused:
                anonymous.encode_dense(["no client certificate"])
            assert refused.value.code is grpc.StatusCode.UNAVAILABLE
    finally:
        sidecar.stop()

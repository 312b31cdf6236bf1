"""Sidecar fixtures shared by the gRPC tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.server.embedded import EmbeddedSidecar

from .shared_data import scifact_corpus
from .sidecar import spec_json, start_sidecar

SCIFACT_SLICE = 100


@pytest.fixture(scope="session")
def encoding_sidecar() -> Iterator[EmbeddedSidecar]:
    """Dense and sparse models, no engine: encoding only."""
    sidecar = start_sidecar(max_wait_ms=5.0, http_port=0, http_host="127.0.0.1")
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="session")
def encoding_client(encoding_sidecar: EmbeddedSidecar) -> Iterator[TandemClient]:
    with TandemClient(encoding_sidecar.address) as client:
        yield client


@pytest.fixture(scope="session")
def engine_sidecar(engine: EngineHandle) -> Iterator[EmbeddedSidecar]:
    """A sidecar in front of each engine of the matrix."""
    sidecar = start_sidecar(engine=engine.url, http_port=0, http_host="127.0.0.1")
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="session")
def engine_sidecar_client(engine_sidecar: EmbeddedSidecar) -> Iterator[TandemClient]:
    with TandemClient(engine_sidecar.address) as client:
        yield client


@pytest.fixture(scope="session")
def scifact_sidecar_index(engine_sidecar_client: TandemClient) -> Iterator[str]:
    """The first SciFact documents (title, text, year), indexed once per engine through
    the sidecar; read-only for the tests that share it."""
    name = f"tandem-scifact-{uuid.uuid4().hex[:10]}"
    engine_sidecar_client.create_index(spec_json(name, year="integer"))
    result = engine_sidecar_client.index_documents(name, scifact_corpus(SCIFACT_SLICE))
    assert (result.indexed, result.failed) == (SCIFACT_SLICE, 0), result.results
    yield name
    with contextlib.suppress(ClientError):
        engine_sidecar_client.delete_index(name)


@pytest.fixture
def alias(engine_client: Any) -> Iterator[str]:
    """``user-XXXX-live``: the alias a user's application writes through, for index
    ``user-XXXX``; afterwards every index named ``user-XXXX*`` is deleted."""
    name = f"user-{uuid.uuid4().hex[:10]}"
    yield f"{name}-live"
    found = engine_client.indices.get(index=f"{name}*", ignore_unavailable=True)
    for index in dict(found):
        engine_client.indices.delete(index=index, ignore_unavailable=True)

"""Sidecar fixtures shared by the gRPC tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tandem.client import TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.server.embedded import EmbeddedSidecar

from .sidecar import start_sidecar


@pytest.fixture(scope="session")
def encoding_sidecar() -> Iterator[EmbeddedSidecar]:
    """Dense and sparse models, no engine: encoding only."""
    sidecar = start_sidecar(max_wait_ms=5.0)
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="session")
def encoding_client(encoding_sidecar: EmbeddedSidecar) -> Iterator[TandemClient]:
    with TandemClient(encoding_sidecar.address) as client:
        yield client


@pytest.fixture(scope="session")
def engine_sidecar(engine: EngineHandle) -> Iterator[EmbeddedSidecar]:
    """A sidecar in front of each engine of the matrix."""
    sidecar = start_sidecar(engine=engine.url)
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="session")
def engine_sidecar_client(engine_sidecar: EmbeddedSidecar) -> Iterator[TandemClient]:
    with TandemClient(engine_sidecar.address) as client:
        yield client

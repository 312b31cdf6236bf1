"""Pytest fixtures that give tests real engines.

Engines are started (or attached to) once per session and stopped at the end
unless ``TANDEM_KEEP_ENGINES=1``. ``TANDEM_TEST_ENGINES`` picks the matrix,
e.g. ``opensearch,elasticsearch,opensearch:2.19.6``. Under ``CI=true`` an
engine that cannot be reached fails the tests that need it; elsewhere they
are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tandem.plugin.engines.kinds import EngineKind

from .clients import client_for
from .errors import EngineError
from .handle import EngineHandle
from .launcher import Launcher
from .specs import DEFAULT_VERSIONS, parse_kind

DEFAULT_MATRIX = "opensearch,elasticsearch"


def engine_matrix(raw: str | None = None) -> list[tuple[EngineKind, str]]:
    """Parse ``kind[:version]`` items, comma separated."""
    text = raw if raw is not None else os.environ.get("TANDEM_TEST_ENGINES", DEFAULT_MATRIX)
    matrix = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind_text, _, version = item.partition(":")
        kind = parse_kind(kind_text)
        matrix.append((kind, version or DEFAULT_VERSIONS[kind]))
    if not matrix:
        raise ValueError("TANDEM_TEST_ENGINES names no engine")
    return matrix


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class EnginePool:
    """Starts each engine of the matrix at most once and stops what it started."""

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher
        self._handles: dict[tuple[EngineKind, str], EngineHandle] = {}
        self._failures: dict[tuple[EngineKind, str], str] = {}

    def get(self, kind: EngineKind, version: str) -> EngineHandle:
        key = (kind, version)
        if key in self._failures:
            _unavailable(self._failures[key])
        if key not in self._handles:
            try:
                self._handles[key] = self.launcher.up(kind, version)
            except EngineError as err:
                self._failures[key] = f"{kind.label} {version} is not available: {err}"
                _unavailable(self._failures[key])
        return self._handles[key]

    def close(self) -> None:
        if os.environ.get("TANDEM_KEEP_ENGINES") == "1":
            return
        for handle in self._handles.values():
            self.launcher.stop(handle)


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def engine_pool() -> Iterator[EnginePool]:
    say: Callable[[str], None] = lambda msg: print(f"[engines] {msg}", flush=True)  # noqa: E731
    pool = EnginePool(Launcher(progress=say, owner="pytest"))
    yield pool
    pool.close()


_MATRIX = engine_matrix()


@pytest.fixture(
    scope="session", params=_MATRIX, ids=[f"{kind.value}-{version}" for kind, version in _MATRIX]
)
def engine(request: pytest.FixtureRequest, engine_pool: EnginePool) -> EngineHandle:
    """Each engine of the matrix in turn, healthy."""
    kind, version = request.param
    return engine_pool.get(kind, version)


_OPENSEARCH = [(k, v) for k, v in _MATRIX if k is EngineKind.OPENSEARCH]


@pytest.fixture(
    scope="session", params=_OPENSEARCH, ids=[f"opensearch-{v}" for _, v in _OPENSEARCH]
)
def opensearch_engine(request: pytest.FixtureRequest, engine_pool: EnginePool) -> EngineHandle:
    """Each OpenSearch of the matrix in turn, for features only OpenSearch has."""
    kind, version = request.param
    return engine_pool.get(kind, version)


@pytest.fixture(scope="session")
def engine_client(engine: EngineHandle) -> Any:
    return client_for(engine)


@pytest.fixture
def index_name(engine_client: Any) -> Iterator[str]:
    """A fresh index name for one test; afterwards every index whose name starts with it
    is deleted (the index, and copies such as ``NAME-tandem-1`` with their aliases)."""
    name = f"tandem-test-{uuid.uuid4().hex[:12]}"
    yield name
    found = engine_client.indices.get(index=f"{name}*", ignore_unavailable=True)
    for index in dict(found):
        engine_client.indices.delete(index=index, ignore_unavailable=True)

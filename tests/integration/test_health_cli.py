"""``tandem health``: the container probe's contract, exit codes and messages.

0 SERVING; 1 NOT_SERVING or no answer (the probe failed); 2 a usage error.
Docker reserves exit code 2 for health checks, so "no sidecar there" must be 1.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import tandem
from .sidecar import start_sidecar


@pytest.fixture(scope="module")
def sidecar() -> Iterator[EmbeddedSidecar]:
    """No models and no engine: nothing to load, SERVING at once."""
    running = start_sidecar(dense="none", sparse="none", metrics_port=-1)
    yield running
    running.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_serving_exits_0_and_prints_the_status(sidecar: EmbeddedSidecar) -> None:
    done = tandem("health", "--server", sidecar.address)
    assert (done.returncode, done.stdout, done.stderr) == (0, "SERVING\n", "")
    search = tandem("health", "--server", sidecar.address, "--service", "tandem.v1.EncodeService")
    assert (search.returncode, search.stdout) == (0, "SERVING\n")


def test_not_serving_exits_1() -> None:
    down = start_sidecar(
        dense="none",
        sparse="none",
        engine=f"http://127.0.0.1:{_free_port()}",
        engine_timeout=1.0,
        metrics_port=-1,
    )
    try:
        done = tandem("health", "--server", down.address)
        assert (done.returncode, done.stdout) == (1, "NOT_SERVING\n"), done.stderr
    finally:
        down.stop()


def test_an_unknown_service_is_a_usage_error_that_lists_the_services(
    sidecar: EmbeddedSidecar,
) -> None:
    done = tandem("health", "--server", sidecar.address, "--service", "tandem.v1.Nope")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "NOT_FOUND: \n" not in done.stderr
    assert "'tandem.v1.Nope'" in line and sidecar.address in line
    assert "tandem.v1.SearchService" in line and "tandem.v1.EncodeService" in line


def test_no_sidecar_exits_1_and_says_how_to_start_one() -> None:
    address = f"127.0.0.1:{_free_port()}"
    done = tandem("health", "--server", address)
    assert (done.returncode, done.stdout) == (1, "")
    (line,) = done.stderr.splitlines()
    assert line.startswith("tandem: error: ") and address in line
    assert "tandem serve" in line


def test_help_states_the_exit_codes() -> None:
    done = tandem("health", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "0 SERVING" in text
    assert "1 NOT_SERVING or no answer" in text
    assert "2 usage errors" in text

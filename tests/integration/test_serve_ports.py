"""``tandem serve`` when a port it needs is taken: one line naming the port and the flag."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tandem.client import ClientError, TandemClient

from .cli import tandem

TANDEM = (sys.executable, "-c", "from tandem.plugin.cli import main; raise SystemExit(main())")
NO_MODELS = ("--dense", "none", "--sparse", "none")


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test holds open, as a second sidecar on the same host would."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_metrics_port_in_use_names_the_port_and_the_flag(held_port: int) -> None:
    done = tandem(
        "serve", "--host", "127.0.0.1", "--port", "0", "--sparse", "none",
        "--metrics-port", str(held_port), env={"TANDEM_ENGINE": ""}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"metrics port {held_port}" in done.stderr
    assert "--metrics-port" in done.stderr and "TANDEM_METRICS_PORT" in done.stderr
    assert "Traceback" not in done.stderr and "Event loop is closed" not in done.stderr
    # It fails before loading any model: the port is checked first.
    assert "loading dense model" not in done.stderr


def test_grpc_port_in_use_names_the_port_and_the_flag(held_port: int) -> None:
    done = tandem(
        "serve", "--host", "127.0.0.1", "--port", str(held_port), "--sparse", "none",
        "--metrics-port", "-1", env={"TANDEM_ENGINE": ""}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"port {held_port}" in done.stderr
    assert "--port" in done.stderr and "TANDEM_PORT" in done.stderr
    assert "Traceback" not in done.stderr and "Event loop is closed" not in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_second_sidecar_on_a_port_in_use_exits_and_the_first_keeps_serving(
    tmp_path: Path,
) -> None:
    """gRPC sets SO_REUSEPORT by default: a second server would share the port and take
    part of the calls meant for the first (here: a token-less one in front of one with a
    token). The second must refuse to start instead."""
    port = _free_port()
    token_file = tmp_path / "token"
    token_file.write_text("the-first-sidecars-token\n")
    port_file = tmp_path / "port"
    first = subprocess.Popen(
        [
            *TANDEM, "serve", *NO_MODELS, "--host", "127.0.0.1", "--port", str(port),
            "--port-file", str(port_file), "--metrics-port", "-1",
            "--auth-token-file", str(token_file),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TANDEM_ENGINE": ""},
    )  # fmt: skip
    try:
        _wait_for(port_file, first)
        second = subprocess.Popen(
            [*TANDEM, "serve", *NO_MODELS, "--host", "127.0.0.1", "--port", str(port),
             "--metrics-port", "-1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TANDEM_ENGINE": ""},
        )  # fmt: skip
        try:
            _, stderr = second.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()
            second.communicate()
            pytest.fail(f"a second tandem serve started on port {port}, in use by the first")
        assert second.returncode == 2, stderr
        assert f"gRPC port {port}" in stderr and "--port" in stderr and "TANDEM_PORT" in stderr
        assert "Traceback" not in stderr
        # Every call reaches the first: token-less ones are refused, ones with it answered.
        for _ in range(12):
            with TandemClient(f"127.0.0.1:{port}") as anonymous:
                with pytest.raises(ClientError) as refused:
                    anonymous.info()
                assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED
        with TandemClient(f"127.0.0.1:{port}", token="the-first-sidecars-token") as client:
            assert client.health() == "SERVING" and client.info()
    finally:
        first.send_signal(signal.SIGTERM)
        output = first.communicate(timeout=60)[0]
    assert first.returncode == 0, output


def _wait_for(port_file: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not port_file.exists() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"tandem serve did not start:\n{process.communicate()[0]}")
        time.sleep(0.1)

"""``TANDEM_*`` variables that do not parse: one line naming the variable, only where used.

Kubernetes sets ``<SERVICE>_PORT=tcp://IP:PORT`` in every pod of a namespace for each
Service there, so a Service named ``tandem`` puts ``TANDEM_PORT=tcp://10.0.0.1:50051``
next to the sidecar and its health probe.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .cli import tandem

KUBERNETES = {"TANDEM_PORT": "tcp://10.0.0.1:50051", "TANDEM_METRICS_PORT": "tcp://10.0.0.2:9464"}
NO_MODELS = ("--dense", "none", "--sparse", "none")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_commands_that_do_not_use_the_port_never_read_it() -> None:
    env = {**KUBERNETES, "TANDEM_INT8": "perhaps", "TANDEM_ENGINE": ""}
    for args in (("--help",), ("serve", "--help"), ("health", "--help"), ("encode", "--help")):
        done = tandem(*args, env=env, timeout=120)
        assert done.returncode == 0, (args, done.stderr)
        assert "tcp://" not in done.stdout + done.stderr
    nobody = f"127.0.0.1:{_closed_port()}"
    health = tandem("health", "--server", nobody, env=env, timeout=120)
    assert health.returncode == 1, health.stderr  # no answer: exit 1, not a crash
    assert "TANDEM_PORT" not in _one_line(health.stderr)
    encode = tandem("encode", "some text", "--server", nobody, env=env, timeout=120)
    assert encode.returncode != 0 and "TANDEM_PORT" not in _one_line(encode.stderr)


def test_serve_names_the_kubernetes_variable_and_what_to_do() -> None:
    done = tandem("serve", *NO_MODELS, "--metrics-port", "-1", env=KUBERNETES, timeout=120)
    assert done.returncode == 2, done.stderr
    line = _one_line(done.stderr)
    assert line.startswith("tandem: error: TANDEM_PORT='tcp://10.0.0.1:50051'")
    assert "Kubernetes" in line and "Service named 'tandem'" in line
    assert "--port" in line and "enableServiceLinks" in line


@pytest.mark.parametrize(
    "variable, value",
    [("TANDEM_INT8", "perhaps"), ("TANDEM_MAX_WAIT_MS", "soon"), ("TANDEM_GRACE", "")],
)
def test_serve_reports_a_variable_that_does_not_parse_in_one_line(
    variable: str, value: str
) -> None:
    done = tandem("serve", *NO_MODELS, "--port", "0", "--metrics-port", "-1",
                  env={variable: value}, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    line = _one_line(done.stderr)
    assert f"{variable}={value!r}" in line
    flag = "--" + variable.removeprefix("TANDEM_").lower().replace("_", "-")
    assert flag in line


def test_a_flag_on_the_command_line_wins_over_a_bad_variable(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [
            sys.executable, "-c", "from tandem.plugin.cli import main; raise SystemExit(main())",
            "serve", *NO_MODELS, "--host", "127.0.0.1", "--port", "0",
            "--port-file", str(port_file), "--metrics-port", "-1", "--no-int8",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **KUBERNETES, "TANDEM_INT8": "perhaps", "TANDEM_ENGINE": ""},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"tandem serve did not start:\n{process.communicate()[0]}")
            time.sleep(0.1)
        port = int(port_file.read_text())
        # The health probe of such a pod: TANDEM_PORT is still the Kubernetes one.
        health = tandem("health", "--server", f"127.0.0.1:{port}", env=KUBERNETES, timeout=60)
        assert health.returncode == 0 and health.stdout.strip() == "SERVING", health.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output

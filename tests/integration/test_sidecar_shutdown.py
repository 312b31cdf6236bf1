"""SIGTERM to a real ``tandem serve`` process while requests are in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from tandem.client import ClientError, TandemClient

LONG = "dense retrieval with transformers and sparse lexical expansion " * 40


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [
            sys.executable, "-c", "from tandem.plugin.cli import main; raise SystemExit(main())",
            "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
            "--metrics-port", "-1", "--sparse", "none", "--grace", "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TANDEM_ENGINE": ""},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not port_file.exists() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out = process.communicate()[0]
            pytest.fail(f"tandem serve did not start:\n{out}")
        time.sleep(0.1)
    return process, int(port_file.read_text())


def test_sigterm_drains_in_flight_requests_and_refuses_new_ones(tmp_path: Path) -> None:
    process, port = _serve(tmp_path)
    address = f"127.0.0.1:{port}"
    try:
        with TandemClient(address) as client:
            assert client.health() == "SERVING"
            # Each request is 64 long texts: seconds of work, queued behind each other.
            with ThreadPoolExecutor(3) as pool:
                inflight = [
                    pool.submit(client.encode_dense, [f"{i} {LONG}"] * 64) for i in range(3)
                ]
                time.sleep(0.5)
                assert not any(f.done() for f in inflight), "requests finished too early"
                process.send_signal(signal.SIGTERM)
                time.sleep(0.3)
                with TandemClient(address, timeout=10) as late:
                    with pytest.raises(ClientError) as refused:
                        late.encode_dense(["a request after SIGTERM"])
                    assert refused.value.code is grpc.StatusCode.UNAVAILABLE
                results = [f.result(timeout=120) for f in inflight]
        assert [r.vectors.shape for r in results] == [(64, 384)] * 3
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
        assert "shutting down" in output and "stopped" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

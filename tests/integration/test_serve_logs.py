"""What ``tandem serve`` logs: where to reach it, and no line per engine request."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tandem.client import SearchOptions, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.kinds import EngineKind

from .cli import tandem

TANDEM = (sys.executable, "-c", "from tandem.plugin.cli import main; raise SystemExit(main())")
# A log line from any logger but Tandem's own, below WARNING.
OTHER_CHATTER = re.compile(r"^\S+ \S+ (DEBUG|INFO) (?!tandem)", re.MULTILINE)


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    port_file = tmp_path / f"port-{len(list(tmp_path.iterdir()))}"
    process = subprocess.Popen(
        [*TANDEM, "serve", "--dense", "none", "--sparse", "none", "--host", "127.0.0.1",
         "--port", "0", "--port-file", str(port_file), "--grace", "1", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TANDEM_ENGINE": ""},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not port_file.exists() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"tandem serve did not start:\n{process.communicate()[0]}")
        time.sleep(0.1)
    return process, int(port_file.read_text())


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    return output


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_serve_logs_its_addresses_and_not_every_engine_request(
    tmp_path: Path, engine: EngineHandle, engine_client: Any, index_name: str, level: str
) -> None:
    document = {"text": "vitamin d"}
    if engine.kind is EngineKind.OPENSEARCH:
        engine_client.index(index=index_name, id="1", body=document, refresh=True)
    else:
        engine_client.index(index=index_name, id="1", document=document, refresh=True)
    process, port = _serve(
        tmp_path, "--engine", engine.url, "--metrics-port", "0", "--metrics-host", "127.0.0.1",
        "--log-level", level,
    )  # fmt: skip
    try:
        for _ in range(3):  # engine requests through the sidecar's engine client
            done = tandem("search", "vitamin", "--server", f"127.0.0.1:{port}",
                          "--index", index_name, "--method", "bm25", timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
        # Concurrent searches share the engine client's connections instead of opening and
        # discarding one per request ("Connection pool is full" warnings).
        with TandemClient(f"127.0.0.1:{port}") as client, ThreadPoolExecutor(8) as pool:
            options = SearchOptions(method="bm25")
            searches = [pool.submit(client.search, index_name, "vitamin", options)
                        for _ in range(64)]  # fmt: skip
            assert all(len(s.result(timeout=120).hits) == 1 for s in searches)
    finally:
        output = _stop(process)
    serving = re.search(
        rf"serving tandem\.v1 on 127\.0\.0\.1:{port} \(plaintext\); "
        r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
        output,
    )
    assert serving, output
    assert int(serving.group(1)) > 0  # the port --metrics-port 0 picked, not 0
    assert OTHER_CHATTER.search(output) is None, output
    assert "WARNING" not in output, output
    assert f"engine at {engine.url} answers" in output


def test_the_logged_metrics_address_answers(tmp_path: Path) -> None:
    process, port = _serve(tmp_path, "--metrics-port", "0", "--metrics-host", "127.0.0.1")
    try:
        assert process.stdout is not None
        line = next(line for line in process.stdout if "serving tandem.v1" in line)
        found = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)$", line.strip())
        assert found and f"on 127.0.0.1:{port} (plaintext)" in line, line
        with urllib.request.urlopen(found.group(1), timeout=10) as answer:
            assert "tandem_" in answer.read().decode()
    finally:
        _stop(process)
    no_metrics, other = _serve(tmp_path, "--metrics-port", "-1")
    assert f"127.0.0.1:{other} (plaintext); metrics off" in _stop(no_metrics)

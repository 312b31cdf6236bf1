"""SIGTERM to a real ``tandem serve`` process while requests are in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from tandem.client import ClientError, TandemClient

LONG = "dense retrieval with transformers and sparse lexical expansion " * 40


def _serve(tmp_path: Path, engine: str = "") -> tuple[subprocess.Popen[str], int]:
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
        env={**os.environ, "TANDEM_ENGINE": engine},
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


def test_sigterm_during_index_documents_ends_the_stream_with_what_was_done(
    tmp_path: Path, engine: Any, engine_client: Any
) -> None:
    """The stream ends before the grace period with the results so far and UNAVAILABLE
    saying how to carry on; nothing is written after the process says it stopped."""
    from tandem.v1 import index_pb2, index_pb2_grpc

    process, port = _serve(tmp_path, engine=engine.url)
    address = f"127.0.0.1:{port}"
    index = f"tandem-sigterm-{os.getpid()}"
    try:
        with TandemClient(address, timeout=60) as client:
            client.create_index(
                {"name": index, "fields": [{"name": "text", "type": "text"},
                                           {"name": "embedding", "type": "dense"}]}
            )  # fmt: skip

        def documents() -> Any:
            yield index_pb2.IndexDocumentsRequest(header=index_pb2.IndexHeader(index=index))
            for i in range(100_000):
                yield index_pb2.IndexDocumentsRequest(
                    document=index_pb2.Document(id=f"d{i}", text={"text": f"document {i}"})
                )

        with grpc.insecure_channel(address) as channel:
            call = index_pb2_grpc.IndexServiceStub(channel).IndexDocuments(documents(), timeout=120)
            reported = 0
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as ended:
                for answer in call:
                    reported = answer.indexed
                    if reported and not process.poll() and time.monotonic() - started > 1:
                        process.send_signal(signal.SIGTERM)
            assert ended.value.code() is grpc.StatusCode.UNAVAILABLE
            details = ended.value.details() or ""
            assert "shutting down" in details and "resume=true" in details, details
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
        engine_client.indices.refresh(index=index)
        stored = engine_client.count(index=index)["count"]
        assert 0 < reported <= stored < 100_000
        time.sleep(2)
        engine_client.indices.refresh(index=index)
        assert engine_client.count(index=index)["count"] == stored  # nothing after "stopped"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        engine_client.indices.delete(index=index, ignore_unavailable=True)

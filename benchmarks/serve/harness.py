"""The sidecar benchmark's machinery: the texts, the server as a child process, the
concurrent-client loop that times it, and the choice of the best round."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from benchmarks import common
from tandem.plugin.server.settings import Settings, env_name
from tandem.v1 import encode_pb2, encode_pb2_grpc

from .records import HOST, MODEL, RPC_TIMEOUT_S, BenchmarkError, Vector

STARTUP_TIMEOUT_S = 300.0  # a cold model cache exports ONNX first
STOP_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------- data


def request_texts(queries: Sequence[str], count: int) -> list[str]:
    """``count`` texts: the queries in file order, repeated as often as needed."""
    return [queries[i % len(queries)] for i in range(count)]


# --------------------------------------------------------------------------- the server process


def _server_command(port_file: Path, extra: Sequence[str]) -> list[str]:
    """``tandem serve`` from this interpreter's environment, dense only, metrics off."""
    script = Path(sys.executable).with_name("tandem")
    launcher = (
        [str(script)]
        if script.is_file()
        else [sys.executable, "-c", "from tandem.plugin.cli import main; raise SystemExit(main())"]
    )
    return [
        *launcher,
        "serve",
        "--host",
        HOST,
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--metrics-port",
        "-1",
        "--dense",
        MODEL,
        "--sparse",
        "none",
        *extra,
    ]


def _server_environment() -> dict[str, str]:
    """This environment without the variables that would change the server's settings."""
    settings = {env_name(f.name) for f in fields(Settings)}
    return {k: v for k, v in os.environ.items() if k not in settings}


class SidecarProcess:
    """``tandem serve`` as a child process; SIGTERM on :meth:`stop`."""

    def __init__(self, folder: Path, extra: Sequence[str]) -> None:
        self.port_file = folder / "port"
        self.log_path = folder / "server.log"
        self.command = _server_command(self.port_file, extra)
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self.stop_seconds: float | None = None
        self.exit_code: int | None = None

    @property
    def pid(self) -> int:
        """The server's process id (once started)."""
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the server's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> int:
        """Start the server and return its port once it is serving."""
        common.log(f"starting the sidecar: {shlex.join(self.command)}")
        started = time.perf_counter()
        with self.log_path.open("wb") as sink:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_server_environment(),
            )
        deadline = started + STARTUP_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(
                    f"the sidecar exited with code {self.process.returncode} before serving:\n"
                    + self.log_tail()
                )
            text = self.port_file.read_text() if self.port_file.is_file() else ""
            if text.endswith("\n"):
                self.startup_seconds = time.perf_counter() - started
                return int(text)
            time.sleep(0.05)
        raise BenchmarkError(
            f"the sidecar did not serve within {STARTUP_TIMEOUT_S:.0f} s:\n" + self.log_tail()
        )

    def stop(self) -> None:
        """SIGTERM, then wait for it to exit (SIGKILL if it does not)."""
        if self.process is None or self.stop_seconds is not None:
            return
        started = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            common.log(f"the sidecar ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s: killing it")
            self.process.kill()
            self.process.wait()
            self.exit_code = None
        self.stop_seconds = time.perf_counter() - started


# --------------------------------------------------------------------------- the client load


@dataclass
class Load:
    """What one run of ``clients`` coroutines over a list of requests saw."""

    latency: list[float]
    queue_ms: list[float]
    inference_ms: list[float]
    server_total_ms: list[float]
    first_vector: Vector
    use: common.CpuUse


async def drive(
    stub: encode_pb2_grpc.EncodeServiceAsyncStub,
    requests: Sequence[encode_pb2.EncodeDenseRequest],
    clients: int,
    server_pid: int,
) -> Load:
    """``clients`` coroutines, each sending one request at a time, the next one off the
    shared list, until every request is answered."""
    n = len(requests)
    latency, queue, inference, total = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    vectors: dict[int, Vector] = {}
    position = 0

    async def client() -> None:
        nonlocal position
        while position < n:
            i, position = position, position + 1
            start = time.perf_counter()
            response = await stub.EncodeDense(requests[i], timeout=RPC_TIMEOUT_S)
            latency[i] = time.perf_counter() - start
            meta = response.metadata
            queue[i], inference[i], total[i] = meta.queue_ms, meta.inference_ms, meta.total_ms
            if i == 0:
                vectors[0] = np.asarray(response.vectors[0].values, dtype=np.float32)

    start = common.Clock.now(server_pid)
    await asyncio.gather(*(client() for _ in range(clients)))
    use = common.CpuUse.between(start, common.Clock.now(server_pid))
    return Load(latency, queue, inference, total, vectors[0], use)


# --------------------------------------------------------------------------- rounds


class Measured(Protocol):
    """A result row with a throughput."""

    @property
    def texts_per_s(self) -> float: ...


M = TypeVar("M", bound=Measured)


def fastest(rows: Sequence[M], key: Callable[[M], Hashable]) -> list[M]:
    """Per ``key`` (in first-seen order), the row with the most texts/s."""
    best: dict[Hashable, M] = {}
    for row in rows:
        k = key(row)
        if k not in best or row.texts_per_s > best[k].texts_per_s:
            best[k] = row
    return list(best.values())

"""What the sidecar benchmark is given and what it finds: its settings and result records.

The records are the shape of the JSON that ``--json`` prints (see
:func:`benchmarks.serve.report.as_json`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

MODEL = "minilm"
BATCH_SIZE = 32
HOST = "127.0.0.1"
RPC_TIMEOUT_S = 60.0
WARMUP_PER_CLIENT = 4  # warm-up requests per client coroutine, at least WARMUP_MIN
WARMUP_MIN = 32

Vector = npt.NDArray[np.float32]


class BenchmarkError(RuntimeError):
    """The sidecar failed to start, answered wrongly, or did not stop."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    """One run's settings: texts, requests per level, client levels, rounds, server flags."""

    data: Path
    requests: int
    clients: tuple[int, ...]
    repeats: int
    server_args: tuple[str, ...]

    def warmup(self, clients: int) -> int:
        """Warm-up requests before the timed ones at ``clients`` concurrent clients."""
        return max(WARMUP_MIN, WARMUP_PER_CLIENT * clients)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class InProcess:
    """One timed in-process pass, ``texts_per_call`` texts per ``encode`` call."""

    label: str
    texts: int
    texts_per_call: int
    seconds: float
    texts_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    cpu_ms_per_text: float
    cores_busy: float
    other_cores: float | None


@dataclass(frozen=True)
class SidecarRun:
    """One timed sidecar level: ``clients`` concurrent clients, one text per request."""

    clients: int
    requests: int
    seconds: float
    texts_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    queue_ms: float
    inference_ms: float
    server_total_ms: float
    batches: int
    rows_per_batch: float
    client_cpu_ms_per_text: float
    server_cpu_ms_per_text: float | None
    cores_busy: float | None
    other_cores: float | None
    first_cosine: float


@dataclass(frozen=True)
class Ratio:
    """One throughput over another, with the target it should reach (None: none)."""

    name: str
    value: float
    target: float | None

    @property
    def met(self) -> bool | None:
        """Whether the value reaches the target (None without a target)."""
        return None if self.target is None else self.value >= self.target


@dataclass(frozen=True)
class Server:
    """The sidecar as it described itself, how long it took to start and how it stopped."""

    command: list[str]
    version: str
    model: str
    dimensions: int
    int8: bool
    max_batch_rows: int
    max_batch_tokens: int
    max_wait_ms: float
    max_queue: int
    startup_seconds: float
    sanity_cosine: float
    stop_seconds: float | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class Environment:
    """The machine and library versions the run saw."""

    cpus: int
    python: str
    grpc: str
    onnxruntime: str
    load_avg_start: float
    load_avg_end: float


@dataclass(frozen=True)
class Report:
    """Everything one run measured, the fastest round of each measurement."""

    data: str
    distinct_texts: int
    requests: int
    mean_tokens: float
    max_tokens: int
    batch_size: int
    repeats: int
    in_process: list[InProcess]
    sidecar: list[SidecarRun]
    ratios: list[Ratio]
    server: Server
    environment: Environment
    total_seconds: float

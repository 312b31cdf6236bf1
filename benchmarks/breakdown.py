"""Where a query's time goes, per stage: in-process, and through the gRPC Search RPC.

In-process, each call runs inside :func:`tandem.encoders.stages.measure`; the query
path marks its stages (tokenize, dense encode, sparse encode, request build, engine
round trip, response build, fuse) and notes the engine's own ``took``. ``rest`` is
the wall time no stage covers (Python between the stages, the client's JSON and
HTTP work is inside ``engine round trip``).

Through gRPC the sidecar runs as its own process (``tandem serve``) and answers each
search with its metadata: time queued for a batcher, in a model run, waiting on the
engine, and in the server in all. ``transport + client`` is the client's wall time
less the server's; ``server rest`` is the server's time outside the queue, the model
runs and the engine (request parsing, planning, fusion, building the answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from tandem.client import SearchOptions, TandemClient
from tandem.encoders.stages import measure

# Stages that do not overlap, in the order a query meets them; their sum is accounted time.
IN_PROCESS = (
    "tokenize",
    "dense encode",
    "sparse encode",
    "request build",
    "engine round trip",
    "response build",
    "fuse",
)
NOTED = ("engine took",)  # inside "engine round trip"
GRPC = (
    "client wall",
    "transport + client",
    "server total",
    "queue",
    "inference",
    "engine",
    "server rest",
)


@dataclass(frozen=True)
class StageRow:
    variant: str
    path: str  # "in-process" or "grpc"
    stage: str
    p50_ms: float
    p99_ms: float
    mean_ms: float


def in_process_sample(call: Callable[[], object]) -> dict[str, float]:
    """Run ``call`` once and return its stages, ``total`` and ``rest`` (milliseconds)."""
    with measure() as clock:
        started = time.perf_counter()
        call()
        total = 1000.0 * (time.perf_counter() - started)
    sample = dict(clock)
    sample["total"] = total
    sample["rest"] = total - sum(ms for name, ms in clock.items() if name not in NOTED)
    return sample


def grpc_sample(
    client: TandemClient, index: str, text: str, options: SearchOptions
) -> dict[str, float]:
    """One ``Search`` through the sidecar: the client's wall time and the server's figures."""
    started = time.perf_counter()
    result = client.search(index, text, options)
    wall = 1000.0 * (time.perf_counter() - started)
    meta = result.metadata
    return {
        "client wall": wall,
        "transport + client": wall - meta.total_ms,
        "server total": meta.total_ms,
        "queue": meta.queue_ms,
        "inference": meta.inference_ms,
        "engine": meta.engine_ms,
        "server rest": meta.total_ms - meta.queue_ms - meta.inference_ms - meta.engine_ms,
    }


def rows(
    variant: str, path: str, samples: list[dict[str, float]], stages: Iterable[str]
) -> list[StageRow]:
    """p50, p99 and mean of each stage over ``samples`` (a stage a sample lacks counts 0)."""
    out = []
    for stage in stages:
        values = np.asarray([s.get(stage, 0.0) for s in samples], dtype=np.float64)
        if not values.any():
            continue
        p50, p99 = np.percentile(values, [50, 99])
        out.append(StageRow(variant, path, stage, float(p50), float(p99), float(values.mean())))
    return out


def table(found: list[StageRow]) -> str:
    """One block per variant and path: each stage's p50, p99 and mean."""
    lines = []
    for key in dict.fromkeys((r.variant, r.path) for r in found):
        lines.append(f"  {key[0]} ({key[1]})")
        lines += [
            f"    {r.stage:20} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.mean_ms:8.2f}"
            for r in found
            if (r.variant, r.path) == key
        ]
    header = f"  {'stage':22} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}"
    return "\n".join([header, *lines])

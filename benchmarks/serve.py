"""Sidecar encode speed: gRPC EncodeDense at 1, 8 and 32 clients against in-process calls.

Run from the repository root::

    python -m benchmarks.serve [--quick] [--json] [--requests N] [--data DIR]

Method. The texts are SciFact queries, repeated in file order until there are
``--requests`` of them; every measurement below uses that same list.

1. In-process, one text per call: ``load_dense(minilm).encode([text], QUERY)``,
   sequentially. Texts/s, and p50/p99 of the per-call time.
2. In-process, batches of 32: ``encode(texts[i:i+32], QUERY)`` over the same
   list, with the encoder's default batching. This is the ceiling: the same
   model with no RPC and full batches.
3. The sidecar, ``tandem serve --dense minilm --sparse none --metrics-port -1``,
   started once as a subprocess with its default settings (the ``TANDEM_*``
   variables of its settings are dropped from its environment, so only
   ``--server-args`` changes them). This process is the client: one asyncio
   event loop, one ``grpc.aio`` channel, C coroutines that each send one text
   per EncodeDense and wait for the answer before taking the next text off the
   shared list. Per level: a warm-up, then the timed requests. Texts/s is
   requests over wall time; p50/p99 are client-observed; queue, inference and
   server total times are the means of what each response's metadata reports.
   Rows per batch is estimated as requests over the number of distinct
   ``inference_ms`` values (every text of one model run reports that run's
   duration).

Each round runs 1 and 2 (the server idle), then 3 at every level; with
``--repeat R`` each number is the fastest of R rounds. CPU time of this process
(``time.process_time``), of the server (``/proc/PID/stat``) and of the whole
machine (``/proc/stat``) is read around every timed pass: client and server
share the machine's cores, as a client application and a local sidecar would,
and CPU used by other processes is reported (and warned about) rather than
hidden. The load average is printed at the start and the end.

A first request, and the first request of every timed level, is compared with
the in-process vector of the same text; a cosine at or below 0.999 stops the
benchmark (exit code 1). The server is stopped with SIGTERM, also on errors,
and must exit with code 0. Nothing printed is hard-coded; see
``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import grpc
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from grpc import aio

from benchmarks import common
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense
from tandem.encoders.registry import KNOWN_MODELS, InputKind
from tandem.plugin.server.settings import Settings, env_name
from tandem.v1 import common_pb2, encode_pb2, encode_pb2_grpc, info_pb2, info_pb2_grpc

MODEL = "minilm"
BATCH_SIZE = 32
CLIENTS = (1, 8, 32)
LATENCY_WARMUP = 5
WARMUP_PER_CLIENT = 4  # warm-up requests per client coroutine, at least WARMUP_MIN
WARMUP_MIN = 32
MIN_COSINE = 0.999
SCALING_TARGET = 3.0  # sidecar at the most clients over sidecar at the fewest
CEILING_TARGET = 0.80  # sidecar at the most clients over in-process batches
STARTUP_TIMEOUT_S = 300.0  # a cold model cache exports ONNX first
RPC_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
HOST = "127.0.0.1"
NOISY_SHARE = 0.05  # of all cores: other processes using more make a measurement suspect

Vector = npt.NDArray[np.float32]


class BenchmarkError(RuntimeError):
    """The sidecar failed to start, answered wrongly, or did not stop."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    data: Path
    requests: int
    clients: tuple[int, ...]
    repeats: int
    server_args: tuple[str, ...]

    def warmup(self, clients: int) -> int:
        return max(WARMUP_MIN, WARMUP_PER_CLIENT * clients)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class InProcess:
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
    name: str
    value: float
    target: float | None

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value >= self.target


@dataclass(frozen=True)
class Server:
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
    cpus: int
    python: str
    grpc: str
    onnxruntime: str
    load_avg_start: float
    load_avg_end: float


@dataclass(frozen=True)
class Report:
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


def as_json(report: Report) -> dict[str, Any]:
    out = asdict(report)
    out["ratios"] = [{**asdict(r), "met": r.met} for r in report.ratios]
    return out


# --------------------------------------------------------------------------- data


def request_texts(queries: Sequence[str], count: int) -> list[str]:
    """``count`` texts: the queries in file order, repeated as often as needed."""
    return [queries[i % len(queries)] for i in range(count)]


# --------------------------------------------------------------------------- helpers


def cosine(a: Vector, b: Vector) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --------------------------------------------------------------------------- in-process


def measure_in_process(
    label: str, encoder: DenseEncoder, texts: Sequence[str], per_call: int
) -> InProcess:
    """One timed pass of ``encode(texts[i:i+per_call], QUERY)`` over ``texts``."""
    chunks = [list(texts[i : i + per_call]) for i in range(0, len(texts), per_call)]
    for chunk in chunks[:LATENCY_WARMUP]:
        encoder.encode(chunk, InputKind.QUERY)
    samples: list[float] = []
    start = common.Clock.now()
    for chunk in chunks:
        samples.append(common.timed(partial(encoder.encode, chunk, InputKind.QUERY)))
    use = common.CpuUse.between(start, common.Clock.now())
    p50, p99, mean = common.percentiles(samples)
    return InProcess(
        label=label,
        texts=len(texts),
        texts_per_call=per_call,
        seconds=use.seconds,
        texts_per_s=len(texts) / use.seconds,
        p50_ms=p50,
        p99_ms=p99,
        mean_ms=mean,
        cpu_ms_per_text=1000 * use.client / len(texts),
        cores_busy=use.client / use.seconds,
        other_cores=use.cores(use.others),
    )


# --------------------------------------------------------------------------- the sidecar


def server_command(port_file: Path, extra: Sequence[str]) -> list[str]:
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


def server_environment() -> dict[str, str]:
    """This environment without the variables that would change the server's settings."""
    settings = {env_name(f.name) for f in fields(Settings)}
    return {k: v for k, v in os.environ.items() if k not in settings}


class SidecarProcess:
    """``tandem serve`` as a child process; SIGTERM on :meth:`stop`."""

    def __init__(self, folder: Path, extra: Sequence[str]) -> None:
        self.port_file = folder / "port"
        self.log_path = folder / "server.log"
        self.command = server_command(self.port_file, extra)
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self.stop_seconds: float | None = None
        self.exit_code: int | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
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
                env=server_environment(),
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


def query(text: str) -> encode_pb2.EncodeDenseRequest:
    return encode_pb2.EncodeDenseRequest(texts=[text], kind=common_pb2.INPUT_KIND_QUERY)


def check_vector(what: str, got: Vector, expected: Vector) -> float:
    if got.shape != expected.shape:
        raise BenchmarkError(f"{what}: the sidecar returned {got.shape}, expected {expected.shape}")
    similarity = cosine(got, expected)
    if not similarity > MIN_COSINE:
        raise BenchmarkError(
            f"{what}: cosine {similarity:.6f} between the sidecar's vector and the "
            f"in-process one (must exceed {MIN_COSINE})"
        )
    return similarity


async def server_info(sidecar: SidecarProcess, port: int, text: str, reference: Vector) -> Server:
    """The server's version and batching limits, and a first vector checked against ours."""
    async with aio.insecure_channel(f"{HOST}:{port}") as channel:
        await asyncio.wait_for(channel.channel_ready(), RPC_TIMEOUT_S)
        info = await info_pb2_grpc.InfoServiceStub(channel).GetInfo(
            info_pb2.GetInfoRequest(), timeout=RPC_TIMEOUT_S
        )
        stub: encode_pb2_grpc.EncodeServiceAsyncStub = encode_pb2_grpc.EncodeServiceStub(channel)
        first = await stub.EncodeDense(query(text), timeout=RPC_TIMEOUT_S)
    dense = next((m for m in info.models if m.kind == "dense"), None)
    if dense is None:
        raise BenchmarkError("the sidecar reports no dense model")
    sanity = check_vector(
        "sanity request", np.asarray(first.vectors[0].values, dtype=np.float32), reference
    )
    return Server(
        command=sidecar.command,
        version=info.version,
        model=MODEL,
        dimensions=dense.dimensions,
        int8=dense.int8,
        max_batch_rows=info.limits.max_batch_rows,
        max_batch_tokens=info.limits.max_batch_tokens,
        max_wait_ms=info.limits.max_wait_ms,
        max_queue=info.limits.max_queue,
        startup_seconds=sidecar.startup_seconds,
        sanity_cosine=sanity,
    )


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


def sidecar_run(clients: int, load: Load, first_cosine: float) -> SidecarRun:
    n, use = len(load.latency), load.use
    p50, p99, mean = common.percentiles(load.latency)
    batches = len(set(load.inference_ms))
    ours = None if use.server is None else use.client + use.server
    return SidecarRun(
        clients=clients,
        requests=n,
        seconds=use.seconds,
        texts_per_s=n / use.seconds,
        p50_ms=p50,
        p99_ms=p99,
        mean_ms=mean,
        queue_ms=float(np.mean(load.queue_ms)),
        inference_ms=float(np.mean(load.inference_ms)),
        server_total_ms=float(np.mean(load.server_total_ms)),
        batches=batches,
        rows_per_batch=n / batches,
        client_cpu_ms_per_text=1000 * use.client / n,
        server_cpu_ms_per_text=None if use.server is None else 1000 * use.server / n,
        cores_busy=use.cores(ours),
        other_cores=use.cores(use.others),
        first_cosine=first_cosine,
    )


async def sidecar_round(
    port: int, texts: Sequence[str], reference: Vector, config: Config, server_pid: int
) -> list[SidecarRun]:
    """One timed run per client level, each after its own warm-up."""
    requests = [query(text) for text in texts]
    runs: list[SidecarRun] = []
    async with aio.insecure_channel(f"{HOST}:{port}") as channel:
        await asyncio.wait_for(channel.channel_ready(), RPC_TIMEOUT_S)
        stub: encode_pb2_grpc.EncodeServiceAsyncStub = encode_pb2_grpc.EncodeServiceStub(channel)
        for clients in config.clients:
            warmup = requests[: config.warmup(clients)]
            common.log(
                f"  sidecar, {clients} client(s): {len(warmup)} warm-up, {len(requests)} timed"
            )
            await drive(stub, warmup, clients, server_pid)
            load = await drive(stub, requests, clients, server_pid)
            what = f"{clients} client(s), first request"
            runs.append(
                sidecar_run(clients, load, check_vector(what, load.first_vector, reference))
            )
    return runs


# --------------------------------------------------------------------------- the run


def ratios(in_process: Sequence[InProcess], sidecar: Sequence[SidecarRun]) -> list[Ratio]:
    single, batch = in_process
    low = min(sidecar, key=lambda r: r.clients)
    high = max(sidecar, key=lambda r: r.clients)
    return [
        Ratio(
            f"sidecar@{high.clients} / sidecar@{low.clients}",
            high.texts_per_s / low.texts_per_s,
            SCALING_TARGET,
        ),
        Ratio(
            f"sidecar@{high.clients} / in-process batch",
            high.texts_per_s / batch.texts_per_s,
            CEILING_TARGET,
        ),
        Ratio(
            f"sidecar@{low.clients} / in-process single",
            low.texts_per_s / single.texts_per_s,
            None,
        ),
        Ratio("in-process batch / in-process single", batch.texts_per_s / single.texts_per_s, None),
        Ratio(
            f"in-process batch / sidecar@{low.clients}",
            batch.texts_per_s / low.texts_per_s,
            None,
        ),
    ]


class Measured(Protocol):
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


def run(config: Config) -> Report:
    started = common.Started.now()
    queries = common.load_queries(config.data)
    if not queries:
        raise BenchmarkError(f"no queries in {config.data / 'queries.jsonl'}")
    texts = request_texts(queries, config.requests)
    common.log(
        f"{len(texts)} texts ({len(queries)} distinct SciFact queries), {config.repeats} round(s)"
    )
    encoder = load_dense(KNOWN_MODELS[MODEL])
    prefix = encoder.spec.prefix(InputKind.QUERY)
    encodings = encoder.batcher.tokenizer.encode_batch([prefix + t for t in texts])
    lengths = [len(e.ids) for e in encodings]
    reference = encoder.encode([texts[0]], InputKind.QUERY)[0]
    batch_label = f"in-process batch {BATCH_SIZE}"
    singles: list[InProcess] = []
    batches: list[InProcess] = []
    runs: list[SidecarRun] = []

    with tempfile.TemporaryDirectory(prefix="tandem-bench-serve-") as folder:
        sidecar = SidecarProcess(Path(folder), config.server_args)
        try:
            port = sidecar.start()
            common.log(f"  serving on port {port} after {sidecar.startup_seconds:.1f} s")
            server = asyncio.run(server_info(sidecar, port, texts[0], reference))
            common.log(f"  sanity: cosine {server.sanity_cosine:.6f} against the in-process vector")
            for round_ in range(1, config.repeats + 1):
                common.log(f"round {round_}: in-process, one text per call (server idle)")
                singles.append(measure_in_process("in-process single", encoder, texts, 1))
                common.log(f"round {round_}: in-process, batches of {BATCH_SIZE} (server idle)")
                batches.append(measure_in_process(batch_label, encoder, texts, BATCH_SIZE))
                runs += asyncio.run(sidecar_round(port, texts, reference, config, sidecar.pid))
        except BaseException as err:
            crashed = sidecar.process is not None and sidecar.process.poll() is not None
            if crashed and not isinstance(err, BenchmarkError):
                common.log("server log:\n" + sidecar.log_tail())
            raise
        finally:
            sidecar.stop()
        if sidecar.exit_code != 0:
            raise BenchmarkError(
                f"the sidecar did not exit cleanly on SIGTERM (exit code {sidecar.exit_code}):\n"
                + sidecar.log_tail()
            )
        common.log(f"  sidecar stopped with SIGTERM in {sidecar.stop_seconds:.1f} s, exit code 0")
        server = dataclasses.replace(
            server, stop_seconds=sidecar.stop_seconds, exit_code=sidecar.exit_code
        )
    in_process = fastest([*singles, *batches], lambda r: r.label)
    sidecar_runs = fastest(runs, lambda r: r.clients)
    return Report(
        data=str(config.data),
        distinct_texts=len(queries),
        requests=len(texts),
        mean_tokens=float(np.mean(lengths)),
        max_tokens=max(lengths),
        batch_size=BATCH_SIZE,
        repeats=config.repeats,
        in_process=in_process,
        sidecar=sidecar_runs,
        ratios=ratios(in_process, sidecar_runs),
        server=server,
        environment=Environment(
            cpus=common.cpu_count(),
            python=platform.python_version(),
            grpc=grpc.__version__,
            onnxruntime=ort.__version__,
            load_avg_start=started.load_avg,
            load_avg_end=common.load_average(),
        ),
        total_seconds=started.seconds(),
    )


# --------------------------------------------------------------------------- summary


def optional(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def in_process_section(report: Report) -> str:
    rows = [
        [
            r.label,
            f"{r.texts_per_s:.1f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.cpu_ms_per_text:.2f}",
            f"{r.cores_busy:.2f}",
            optional(r.other_cores, ".2f"),
        ]
        for r in report.in_process
    ]
    headers = ["mode", "texts/s", "p50 ms/call", "p99 ms/call", "CPU ms/text", "cores", "others"]
    title = f"In-process, in this process, server idle ({report.requests} texts)"
    return f"{title}\n{common.table(headers, rows)}"


def sidecar_section(report: Report) -> str:
    rows = [
        [
            str(r.clients),
            f"{r.texts_per_s:.1f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.queue_ms:.2f}",
            f"{r.inference_ms:.2f}",
            f"{r.server_total_ms:.2f}",
            f"{r.rows_per_batch:.1f}",
            f"{r.client_cpu_ms_per_text:.2f}",
            optional(r.server_cpu_ms_per_text, ".2f"),
            optional(r.cores_busy, ".2f"),
            optional(r.other_cores, ".2f"),
        ]
        for r in report.sidecar
    ]
    headers = [
        "clients",
        "texts/s",
        "p50 ms",
        "p99 ms",
        "queue ms",
        "infer ms",
        "server ms",
        "rows/batch",
        "client CPU",
        "server CPU",
        "cores",
        "others",
    ]
    s = report.server
    title = (
        f"Sidecar EncodeDense, one text per request ({report.requests} requests per level; "
        f"server: max_batch_rows {s.max_batch_rows}, max_batch_tokens {s.max_batch_tokens}, "
        f"max_wait_ms {s.max_wait_ms:g})"
    )
    note = (
        "p50/p99: client-observed; queue/infer/server ms: means of the response metadata; "
        "rows/batch: estimated;\nclient/server CPU: ms per text; cores: CPU seconds per "
        "second (client + server, or this process); others: the rest of the machine"
    )
    return f"{title}\n{common.table(headers, rows)}\n{note}"


def ratio_section(report: Report) -> str:
    def verdict(r: Ratio) -> str:
        if r.target is None:
            return ""
        return f"target >= {r.target:g}: {'met' if r.met else 'NOT met'}"

    rows = [[r.name, f"{r.value:.3f}x", verdict(r)] for r in report.ratios]
    return "Ratios (texts/s)\n" + common.table(["ratio", "value", "target"], rows)


def server_section(report: Report) -> str:
    s = report.server
    return (
        f"Server: tandem {s.version}, {s.model} ({s.dimensions} dims, "
        f"{'int8' if s.int8 else 'fp32'}), serving after {s.startup_seconds:.1f} s, "
        f"SIGTERM exit {s.exit_code} in {optional(s.stop_seconds, '.1f')} s; "
        f"vector check: cosine {s.sanity_cosine:.6f} (sanity), "
        f"min {min(r.first_cosine for r in report.sidecar):.6f} (first request of each level)\n"
        f"  {shlex.join(s.command)}"
    )


def noise_section(report: Report) -> str | None:
    """A warning naming the measurements during which other processes used the CPU."""
    limit = NOISY_SHARE * report.environment.cpus
    noisy = [(r.label, r.other_cores) for r in report.in_process] + [
        (f"sidecar@{r.clients}", r.other_cores) for r in report.sidecar
    ]
    hit = [f"{label} {cores:.2f}" for label, cores in noisy if cores is not None and cores > limit]
    if not hit:
        return None
    return (
        f"WARNING: other processes used more than {limit:.2f} cores during: {', '.join(hit)}. "
        "Those numbers are pessimistic; rerun on an idle machine."
    )


def summary(report: Report) -> str:
    env = report.environment
    title = (
        f"Tandem sidecar benchmark: {report.requests} SciFact queries ({report.distinct_texts} "
        f"distinct, mean {report.mean_tokens:.1f} tokens, max {report.max_tokens}), {MODEL}"
    )
    versions = (f"grpc {env.grpc}", f"onnxruntime {env.onnxruntime}")
    return common.sections(
        common.header(title, env, report.total_seconds, *versions, f"best of {report.repeats}"),
        in_process_section(report),
        sidecar_section(report),
        ratio_section(report),
        server_section(report),
        noise_section(report),
    )


# --------------------------------------------------------------------------- command line


def parse_clients(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected integers like 1,8,32: {err}") from err
    if len(values) < 2 or values[0] < 1:
        raise argparse.ArgumentTypeError("give at least two client counts, each at least 1")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = common.make_parser(
        "python -m benchmarks.serve",
        "Sidecar EncodeDense speed against in-process calls (benchmarks/README.md).",
    )
    parser.add_argument("--requests", type=int, help="timed texts per measurement (2000)")
    parser.add_argument(
        "--clients",
        type=parse_clients,
        default=CLIENTS,
        help="concurrent client levels, comma-separated (default 1,8,32)",
    )
    common.add_repeat(parser)
    parser.add_argument(
        "--server-args",
        default="",
        help="extra 'tandem serve' flags, e.g. --server-args='--max-wait-ms 5'",
    )
    common.add_run_flags(parser, "small samples, under a minute")
    return common.parse_positive(parser, argv, ("requests", "repeat"))


def config_from(args: argparse.Namespace) -> Config:
    return Config(
        data=args.data.resolve(),
        requests=common.pick(args, "requests", 2000, 400),
        clients=tuple(args.clients),
        repeats=common.pick(args, "repeat", 2, 1),
        server_args=tuple(shlex.split(args.server_args)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_from(args)
    if common.data_missing(config.data, "queries.jsonl"):
        return 2
    common.log(f"load average at start: {common.load_average():.2f}")
    try:
        report = run(config)
    except BenchmarkError as err:
        common.log(f"benchmark failed: {err}")
        return 1
    common.log(f"load average at end: {report.environment.load_avg_end:.2f}")
    common.emit(summary(report), as_json(report) if args.json else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

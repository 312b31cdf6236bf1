"""The contenders: the dense encoder called in this process, and the sidecar called over
gRPC by concurrent clients. Each timed pass becomes one result row."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial

import numpy as np
from grpc import aio

from benchmarks import common
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.registry import InputKind
from tandem.v1 import common_pb2, encode_pb2, encode_pb2_grpc, info_pb2, info_pb2_grpc

from .harness import Load, SidecarProcess, drive
from .records import (
    HOST,
    MODEL,
    RPC_TIMEOUT_S,
    BenchmarkError,
    Config,
    InProcess,
    Server,
    SidecarRun,
    Vector,
)

LATENCY_WARMUP = 5
MIN_COSINE = 0.999


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


def _cosine(a: Vector, b: Vector) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _query(text: str) -> encode_pb2.EncodeDenseRequest:
    return encode_pb2.EncodeDenseRequest(texts=[text], kind=common_pb2.INPUT_KIND_QUERY)


def _check_vector(what: str, got: Vector, expected: Vector) -> float:
    if got.shape != expected.shape:
        raise BenchmarkError(f"{what}: the sidecar returned {got.shape}, expected {expected.shape}")
    similarity = _cosine(got, expected)
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
        first = await stub.EncodeDense(_query(text), timeout=RPC_TIMEOUT_S)
    dense = next((m for m in info.models if m.kind == "dense"), None)
    if dense is None:
        raise BenchmarkError("the sidecar reports no dense model")
    sanity = _check_vector(
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


def _sidecar_run(clients: int, load: Load, first_cosine: float) -> SidecarRun:
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
    requests = [_query(text) for text in texts]
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
                _sidecar_run(clients, load, _check_vector(what, load.first_vector, reference))
            )
    return runs

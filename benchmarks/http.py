"""The HTTP/JSON face against gRPC, side by side in one run, on one ``tandem serve``.

Run from the repository root::

    python -m benchmarks.http [--requests N] [--clients C] [--duration S] [--json]

It starts ``tandem serve`` (both models, no engine) with ``--http-port``, then:

* **1 client**: ``N`` single-query encodes, one at a time, alternating gRPC
  ``EncodeDense`` with HTTP ``/embed`` and ``/v1/embeddings`` (and ``EncodeSparse``
  with ``/embed_sparse``) so that drift hits every protocol alike; p50 and p99 of each,
  and each HTTP route's p50 against gRPC's (goal: at most 1.2x).
* **C clients**: ``C`` concurrent clients for ``S`` seconds on each protocol, gRPC,
  HTTP, gRPC, HTTP; encodes per second, and HTTP's rate against gRPC's (goal: at least
  0.8x). The clients are coroutines: one ``grpc.aio`` channel, one aiohttp session
  (keep-alive connections), as a service would hold them.

Clients and server share this machine's cores, so absolute numbers move with the
load; the ratios are what the script is for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from grpc import aio

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # also runnable as a plain script
    sys.path.insert(0, str(REPO))

from benchmarks.common import DEFAULT_DATA, load_queries, log, percentiles, table  # noqa: E402
from benchmarks.load import start_server  # noqa: E402
from tandem.v1 import common_pb2, encode_pb2, encode_pb2_grpc  # noqa: E402

Call = Callable[[str], Awaitable[Any]]


@dataclass(frozen=True)
class Latency:
    name: str
    p50_ms: float
    p99_ms: float
    ratio_to_grpc: float | None = None


@dataclass(frozen=True)
class Throughput:
    name: str
    clients: int
    per_second: float
    errors: int
    ratio_to_grpc: float | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """``tandem serve`` with both faces; its gRPC address and HTTP base URL."""
    port = _free_port()
    process, address = start_server(
        None, folder, "--http-port", str(port), "--http-host", "127.0.0.1"
    )
    return process, address, f"http://127.0.0.1:{port}"


def calls(channel: aio.Channel, session: aiohttp.ClientSession, url: str) -> dict[str, Call]:
    """One single-query encode per protocol and route."""
    stub = encode_pb2_grpc.EncodeServiceStub(channel)
    query = common_pb2.INPUT_KIND_QUERY

    async def grpc_dense(text: str) -> Any:
        return await stub.EncodeDense(encode_pb2.EncodeDenseRequest(texts=[text], kind=query))

    async def grpc_sparse(text: str) -> Any:
        return await stub.EncodeSparse(encode_pb2.EncodeSparseRequest(texts=[text], kind=query))

    def http(path: str, body: Callable[[str], dict[str, Any]]) -> Call:
        async def call(text: str) -> Any:
            async with session.post(f"{url}{path}", json=body(text)) as response:
                response.raise_for_status()
                return await response.read()

        return call

    return {
        "gRPC EncodeDense": grpc_dense,
        "HTTP /embed": http("/embed", lambda t: {"inputs": t, "input_type": "query"}),
        "HTTP /v1/embeddings": http(
            "/v1/embeddings", lambda t: {"input": t, "model": "minilm", "input_type": "query"}
        ),
        "gRPC EncodeSparse": grpc_sparse,
        "HTTP /embed_sparse": http("/embed_sparse", lambda t: {"inputs": t, "input_type": "query"}),
    }


async def one_client(routes: dict[str, Call], queries: list[str], requests: int) -> list[Latency]:
    seconds: dict[str, list[float]] = {name: [] for name in routes}
    for i in range(requests):
        text = queries[i % len(queries)]
        for name, call in routes.items():  # every protocol in turn, for each query
            started = time.perf_counter()
            await call(text)
            seconds[name].append(time.perf_counter() - started)
    p50 = {name: percentiles(s)[0] for name, s in seconds.items()}
    out = []
    for name, values in seconds.items():
        base = "gRPC EncodeSparse" if "sparse" in name.lower() else "gRPC EncodeDense"
        ratio = None if name.startswith("gRPC") else p50[name] / p50[base]
        p50_ms, p99_ms, _ = percentiles(values)
        out.append(Latency(name, p50_ms, p99_ms, ratio))
    return out


async def load(call: Call, queries: list[str], clients: int, duration: float) -> tuple[int, int]:
    """Encodes answered and failed by ``clients`` coroutines in ``duration`` seconds."""
    until = time.monotonic() + duration
    done, failed = 0, 0

    async def client(seed: int) -> None:
        nonlocal done, failed
        i = seed
        while time.monotonic() < until:
            try:
                await call(queries[i % len(queries)])
                done += 1
            except Exception:  # counted, not fatal: the rate is what is measured
                failed += 1
            i += clients

    await asyncio.gather(*(client(n) for n in range(clients)))
    return done, failed


async def measure(
    address: str, url: str, queries: list[str], requests: int, clients: int, duration: float
) -> tuple[list[Latency], list[Throughput]]:
    connector = aiohttp.TCPConnector(limit=clients)
    async with (
        aio.insecure_channel(address) as channel,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        routes = calls(channel, session, url)
        await one_client(routes, queries, 20)  # warm up: connections, allocators, caches
        log(f"1 client: {requests} single-query encodes per route, routes alternating")
        latencies = await one_client(routes, queries, requests)
        log(f"{clients} clients: {duration:.0f} s per protocol, twice each, alternating")
        totals = {"gRPC EncodeDense": [0, 0], "HTTP /embed": [0, 0]}
        for _round in range(2):
            for name in totals:
                done, failed = await load(routes[name], queries, clients, duration)
                totals[name][0] += done
                totals[name][1] += failed
    rate = {name: done / (2 * duration) for name, (done, _f) in totals.items()}
    throughputs = [
        Throughput(
            name,
            clients,
            rate[name],
            failed,
            None if name.startswith("gRPC") else rate[name] / rate["gRPC EncodeDense"],
        )
        for name, (_d, failed) in totals.items()
    ]
    return latencies, throughputs


def report(latencies: list[Latency], throughputs: list[Throughput]) -> str:
    rows = [
        [
            t.name,
            f"{t.p50_ms:.2f}",
            f"{t.p99_ms:.2f}",
            f"{t.ratio_to_grpc:.2f}x" if t.ratio_to_grpc else "1.00x",
        ]
        for t in latencies
    ]
    first = table(["1 client", "p50 ms", "p99 ms", "p50 / gRPC"], rows)
    rows = [
        [
            t.name,
            str(t.clients),
            f"{t.per_second:.1f}",
            str(t.errors),
            f"{t.ratio_to_grpc:.2f}x" if t.ratio_to_grpc else "1.00x",
        ]
        for t in throughputs
    ]
    second = table(["concurrent", "clients", "encodes/s", "errors", "rate / gRPC"], rows)
    return f"{first}\n\n{second}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="encodes per route, 1 client")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load phase")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    queries = load_queries(DEFAULT_DATA)
    with tempfile.TemporaryDirectory() as folder:
        process, address, url = start(Path(folder))
        try:
            latencies, throughputs = asyncio.run(
                measure(address, url, queries, args.requests, args.clients, args.duration)
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    if args.json:
        payload = {
            "latency": [asdict(x) for x in latencies],
            "throughput": [asdict(x) for x in throughputs],
        }
        print(json.dumps(payload))
    else:
        print(report(latencies, throughputs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

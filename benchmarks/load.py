"""Load: N concurrent clients for S seconds, mixing Search and Encode, against one sidecar.

Run from the repository root::

    python benchmarks/load.py [--server ADDR --index NAME] [--clients N] --duration S [--json]

Without ``--server`` it starts what it needs: a local OpenSearch (launcher),
an index of SciFact abstracts (``tandem-bench-load``, built once), and a
``tandem serve`` subprocess in front of them. Each client is a coroutine on one
``grpc.aio`` channel that alternates a hybrid ``Search`` and a single-text
``EncodeDense`` with SciFact queries until the time is up. The report gives
throughput, p50/p99 latency, errors by status code, and the server's RSS after
the warm-up and at the end (targets: zero errors, RSS within 10%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # also runnable as a plain script
    sys.path.insert(0, str(REPO))

from benchmarks.common import DEFAULT_DATA, load_queries, log, percentiles  # noqa: E402
from tandem.v1 import (  # noqa: E402
    common_pb2,
    encode_pb2,
    encode_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

INDEX = "tandem-bench-load"
DOCS = 1000


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def prepare_index(url: str) -> None:
    from tandem.encoders.loader import load_dense, load_sparse
    from tandem.encoders.registry import KNOWN_MODELS
    from tandem.plugin.engines.connect import connect
    from tandem.plugin.ingest.documents import Document, read_documents
    from tandem.plugin.ingest.fill import fill_index, holds

    adapter = connect(url)
    try:
        docs = [d for d in read_documents(DEFAULT_DATA) if isinstance(d, Document)][:DOCS]
        if holds(adapter, INDEX, len(docs)):
            return
        log(f"indexing {len(docs)} SciFact documents into {INDEX}")
        dense, sparse = load_dense(KNOWN_MODELS["minilm"]), load_sparse(KNOWN_MODELS["splade-tiny"])
        fill_index(adapter, INDEX, docs, dense, sparse)
    finally:
        adapter.close()


def start_server(
    engine_url: str | None, folder: Path, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """``tandem serve`` in front of ``engine_url`` (``None``: encoding only) with ``extra``
    flags; its gRPC address."""
    port_file = folder / "port"
    command = [
        sys.executable, "-c", "from tandem.plugin.cli import main; raise SystemExit(main())",
        "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
        "--metrics-port", "-1", *(("--engine", engine_url) if engine_url else ()), *extra,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("tandem serve did not start")
        time.sleep(0.2)
    return process, f"127.0.0.1:{port_file.read_text().strip()}"


async def client(
    channel: aio.Channel,
    index: str,
    queries: list[str],
    until: float,
    seed: int,
    seconds: list[float],
    codes: Counter[str],
) -> None:
    search = search_pb2_grpc.SearchServiceStub(channel)
    encode = encode_pb2_grpc.EncodeServiceStub(channel)
    i = seed
    while time.monotonic() < until:
        text = queries[i % len(queries)]
        started = time.perf_counter()
        try:
            if i % 2:
                await search.Search(
                    search_pb2.SearchRequest(index=index, query=text, k=10), timeout=30
                )
            else:
                await encode.EncodeDense(
                    encode_pb2.EncodeDenseRequest(texts=[text], kind=common_pb2.INPUT_KIND_QUERY),
                    timeout=30,
                )
            codes["OK"] += 1
        except grpc.RpcError as err:
            codes[err.code().name] += 1
        seconds.append(time.perf_counter() - started)
        i += 1


async def drive(
    address: str, index: str, clients: int, duration: float, queries: list[str]
) -> tuple[list[float], Counter[str]]:
    seconds: list[float] = []
    codes: Counter[str] = Counter()
    async with aio.insecure_channel(address) as channel:
        until = time.monotonic() + duration
        await asyncio.gather(
            *(client(channel, index, queries, until, n, seconds, codes) for n in range(clients))
        )
    return seconds, codes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--server", help="a running sidecar (HOST:PORT); default: start one")
    parser.add_argument("--index", default=INDEX, help="index to search (with --server)")
    parser.add_argument("--engine", default="opensearch", help="engine to start or use")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, required=True, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before measuring")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    queries = load_queries(DEFAULT_DATA)
    process = None
    with tempfile.TemporaryDirectory() as folder:
        try:
            address = args.server
            if address is None:
                from tandem.integration.launcher import Launcher
                from tandem.integration.specs import parse_kind

                url = (
                    args.engine
                    if "://" in args.engine
                    else Launcher(progress=log).up(parse_kind(args.engine)).url
                )
                prepare_index(url)
                process, address = start_server(url, Path(folder))
            pid = process.pid if process else None
            asyncio.run(drive(address, args.index, args.clients, args.warmup, queries))
            rss_start = rss_mb(pid)
            log(f"{args.clients} clients for {args.duration:.0f} s against {address}")
            seconds, codes = asyncio.run(
                drive(address, args.index, args.clients, args.duration, queries)
            )
            rss_end = rss_mb(pid)
        finally:
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    p50, p99, _ = percentiles(seconds)
    requests = sum(codes.values())
    result: dict[str, Any] = {
        "requests": requests,
        "errors": requests - codes["OK"],
        "p50_ms": p50,
        "p99_ms": p99,
        "rss_mb_start": rss_start,
        "rss_mb_end": rss_end,
    }
    summary = (
        f"{requests} requests in {args.duration:.0f} s ({requests / args.duration:.1f}/s), "
        f"{args.clients} clients, Search and EncodeDense alternating\n"
        f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms; errors {result['errors']} {dict(codes)}\n"
        f"  server RSS {rss_start or 0:.0f} MB after warm-up -> {rss_end or 0:.0f} MB at the end"
    )
    if args.json:
        print(json.dumps(result))
        log(summary)
    else:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

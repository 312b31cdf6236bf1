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

Modules: :mod:`.records` (settings and result records), :mod:`.harness` (the
server process, the client load loop, best-of-rounds), :mod:`.contenders`
(in-process calls and the sidecar, each timed into rows), :mod:`.report`
(ratios, summary, JSON), :mod:`.runner` (one run) and :mod:`.cli` (the flags).
"""

from __future__ import annotations

from .cli import config_from, main, parse_args
from .records import BenchmarkError, Config, Report
from .report import as_json, summary
from .runner import run

__all__ = [
    "BenchmarkError",
    "Config",
    "Report",
    "as_json",
    "config_from",
    "main",
    "parse_args",
    "run",
    "summary",
]

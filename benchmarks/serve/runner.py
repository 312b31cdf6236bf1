"""One sidecar benchmark run: start the server, then per round the in-process passes and
every client level, then stop the server and keep the fastest round of each number."""

from __future__ import annotations

import asyncio
import dataclasses
import platform
import tempfile
from pathlib import Path

import grpc
import numpy as np
import onnxruntime as ort

from benchmarks import common
from tandem.encoders.loader import load_dense
from tandem.encoders.registry import KNOWN_MODELS, InputKind

from .contenders import measure_in_process, server_info, sidecar_round
from .harness import SidecarProcess, fastest, request_texts
from .records import (
    BATCH_SIZE,
    MODEL,
    BenchmarkError,
    Config,
    Environment,
    InProcess,
    Report,
    SidecarRun,
)
from .report import ratios


def run(config: Config) -> Report:
    """Every measurement of ``config``, its rounds interleaved; :class:`BenchmarkError`
    when the sidecar fails to start, answers wrongly or does not stop cleanly."""
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

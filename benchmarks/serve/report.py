"""The sidecar benchmark's report: its ratios, the readable summary and the JSON."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from benchmarks import common

from .records import MODEL, InProcess, Ratio, Report, SidecarRun

SCALING_TARGET = 3.0  # sidecar at the most clients over sidecar at the fewest
CEILING_TARGET = 0.80  # sidecar at the most clients over in-process batches
NOISY_SHARE = 0.05  # of all cores: other processes using more make a measurement suspect


def ratios(in_process: Sequence[InProcess], sidecar: Sequence[SidecarRun]) -> list[Ratio]:
    """Throughput ratios between the in-process pair (single, batch) and the client levels."""
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


def as_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data, each ratio with whether it met its target."""
    out = asdict(report)
    out["ratios"] = [{**asdict(r), "met": r.met} for r in report.ratios]
    return out


# --------------------------------------------------------------------------- summary


def _optional(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _in_process_section(report: Report) -> str:
    rows = [
        [
            r.label,
            f"{r.texts_per_s:.1f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.cpu_ms_per_text:.2f}",
            f"{r.cores_busy:.2f}",
            _optional(r.other_cores, ".2f"),
        ]
        for r in report.in_process
    ]
    headers = ["mode", "texts/s", "p50 ms/call", "p99 ms/call", "CPU ms/text", "cores", "others"]
    title = f"In-process, in this process, server idle ({report.requests} texts)"
    return f"{title}\n{common.table(headers, rows)}"


def _sidecar_section(report: Report) -> str:
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
            _optional(r.server_cpu_ms_per_text, ".2f"),
            _optional(r.cores_busy, ".2f"),
            _optional(r.other_cores, ".2f"),
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


def _ratio_section(report: Report) -> str:
    def verdict(r: Ratio) -> str:
        if r.target is None:
            return ""
        return f"target >= {r.target:g}: {'met' if r.met else 'NOT met'}"

    rows = [[r.name, f"{r.value:.3f}x", verdict(r)] for r in report.ratios]
    return "Ratios (texts/s)\n" + common.table(["ratio", "value", "target"], rows)


def _server_section(report: Report) -> str:
    s = report.server
    return (
        f"Server: tandem {s.version}, {s.model} ({s.dimensions} dims, "
        f"{'int8' if s.int8 else 'fp32'}), serving after {s.startup_seconds:.1f} s, "
        f"SIGTERM exit {s.exit_code} in {_optional(s.stop_seconds, '.1f')} s; "
        f"vector check: cosine {s.sanity_cosine:.6f} (sanity), "
        f"min {min(r.first_cosine for r in report.sidecar):.6f} (first request of each level)\n"
        f"  {shlex.join(s.command)}"
    )


def _noise_section(report: Report) -> str | None:
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
    """The readable summary: header, in-process and sidecar tables, ratios, server, noise."""
    env = report.environment
    title = (
        f"Tandem sidecar benchmark: {report.requests} SciFact queries ({report.distinct_texts} "
        f"distinct, mean {report.mean_tokens:.1f} tokens, max {report.max_tokens}), {MODEL}"
    )
    versions = (f"grpc {env.grpc}", f"onnxruntime {env.onnxruntime}")
    return common.sections(
        common.header(title, env, report.total_seconds, *versions, f"best of {report.repeats}"),
        _in_process_section(report),
        _sidecar_section(report),
        _ratio_section(report),
        _server_section(report),
        _noise_section(report),
    )

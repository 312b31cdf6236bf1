"""The encoder benchmark's readable summary: one section per measurement."""

from __future__ import annotations

from benchmarks import common
from tandem.encoders.text import DEFAULT_MAX_TOKENS

from .records import BATCH_SIZE, NAIVE_LENGTH, Memory, Report, SortGain


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def _throughput_section(report: Report) -> str:
    rows = [
        [
            r.label,
            f"{r.docs_per_s:.1f}",
            f"{r.real_tokens / r.seconds:,.0f}",
            _percent(r.tokenizer_share),
            _percent(1 - r.real_tokens / r.padded_tokens),
        ]
        for r in report.throughput
    ]
    headers = ["model", "docs/s", "real tokens/s", "tokenizer share", "padding"]
    title = (
        f"Batch throughput (batches of <= {report.batch_size} rows and <= {DEFAULT_MAX_TOKENS} "
        f"padded tokens, length-sorted, {report.docs} docs, "
        f"best of {report.repeats})"
    )
    return f"{title}\n{common.table(headers, rows)}"


def _latency_section(report: Report) -> str:
    rows = [[r.label, f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"] for r in report.latency]
    title = f"Single-query latency ({report.queries} SciFact queries, one at a time)"
    return f"{title}\n{common.table(['model', 'p50 ms', 'p99 ms'], rows)}"


def _naive_section(report: Report) -> str:
    docs = report.naive[0].docs if report.naive else 0
    title = (
        f"Naive baseline: one ORT call per text, default session, padded to {NAIVE_LENGTH} "
        f"({docs} docs)"
    )
    rows = [
        [
            r.model,
            f"{r.ours_docs_per_s:.1f} (@{r.ours_max_length})",
            f"{r.naive_docs_per_s:.2f} (@{NAIVE_LENGTH})",
            f"{r.speedup:.1f}x",
        ]
        for r in report.naive
    ]
    return f"{title}\n{common.table(['model', 'ours docs/s', 'naive docs/s', 'ours/naive'], rows)}"


def _sort_section(s: SortGain) -> str:
    return (
        f"Length sorting ({s.label}): sorted {s.sorted_docs_per_s:.1f} docs/s "
        f"({s.sorted_padded_tokens:,} padded tokens), unsorted {s.unsorted_docs_per_s:.1f} "
        f"docs/s ({s.unsorted_padded_tokens:,}), gain {s.ratio:.2f}x"
    )


def _compute_section(report: Report) -> str:
    lines = [f"numpy float32 1024x1024 matmul: {report.matmul_gflops:.1f} GFLOP/s (best round)"]
    lines += [
        f"{c.label}: ~{c.gflop:,.0f} GFLOP in {c.seconds:.2f} s = {c.gflops:.1f} GFLOP/s "
        f"= {100 * c.fraction_of_matmul:.0f}% of the matmul rate"
        for c in report.compute
    ]
    return "Compute efficiency (encoder layers, padded shapes)\n" + "\n".join(lines)


def _peer_section(report: Report) -> str:
    p = report.peer
    if not p.installed:
        return p.note
    return (
        f"FastEmbed {p.version} ({p.note}):\n"
        f"  batch: {p.docs_per_s:.1f} docs/s vs ours {p.ours_docs_per_s:.1f} "
        f"(ours/fastembed {p.ours_docs_per_s / p.docs_per_s:.2f}x)\n"
        f"  query: p50 {p.p50_ms:.2f} ms (p99 {p.p99_ms:.2f}) vs ours p50 {p.ours_p50_ms:.2f} ms\n"
        f"  agreement: min cosine vs ours on {BATCH_SIZE} queries {p.min_cosine_vs_ours:.6f}"
    )


def _memory_section(m: Memory) -> str:
    return (
        f"Peak RSS (fresh process, minilm + splade-tiny fp32, {m.docs} docs in batches of "
        f"{BATCH_SIZE}): {m.peak_rss_mb:,.0f} MB "
        f"(before loading {m.before_load_mb:,.0f} MB, after loading {m.after_load_mb:,.0f} MB"
        + (f", VmHWM {m.vm_hwm_mb:,.0f} MB)" if m.vm_hwm_mb is not None else ")")
    )


def summary(report: Report) -> str:
    """The readable summary: header, then throughput, latency, baseline, sorting, compute,
    peer and memory."""
    env = report.environment
    title = (
        f"Tandem encoder benchmark: SciFact {report.docs} docs "
        f"(mean {report.mean_doc_tokens:.0f} tokens, cut at {NAIVE_LENGTH})"
    )
    return common.sections(
        common.header(title, env, report.total_seconds, f"onnxruntime {env.onnxruntime}"),
        _throughput_section(report),
        _latency_section(report),
        _naive_section(report),
        _sort_section(report.sort_gain),
        _compute_section(report),
        _peer_section(report),
        _memory_section(report.memory),
    )

"""The scale run as text (one table per size) and as charts (matplotlib, the eval extra)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import table

from .measure import ScaleRun

MB = 1024 * 1024


def summary(run: ScaleRun, last_only: bool = False) -> str:
    """The run's tables (with ``last_only``, the newest size's alone)."""
    lines = [
        f"Scale on {run.engine}: {run.real:,} real documents (the rest derived), "
        f"{run.queries} held-out queries, one client, query encoding included"
    ]
    for size in run.sizes[-1:] if last_only else run.sizes:
        bm25 = next(r for r in size.rows if r.variant == "bm25")
        rows = [
            [
                r.variant,
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                f"{r.p50_ms / bm25.p50_ms:.2f}x",
                "" if r.recall_at_10 is None else f"{r.recall_at_10:.3f}",
            ]
            for r in size.rows
        ]
        f = size.footprint
        rss = "" if f.rss_bytes is None else f", engine RSS {f.rss_bytes / MB:,.0f} MB"
        loaded = f"loaded in {size.load_seconds:,.0f} s" if size.load_seconds else "reused"
        lines += [
            "",
            f"{size.docs:,} documents ({loaded}): index "
            f"{f.store_bytes / MB:,.0f} MB in {f.segments} segments, heap "
            f"{f.heap_used_bytes / MB:,.0f} of {f.heap_max_bytes / MB:,.0f} MB{rss}",
            table(["variant", "p50 ms", "p99 ms", "p50 / bm25", "recall@10"], rows),
        ]
    lines += [f"not measured: {name}: {why}" for name, why in run.not_measured.items()]
    return "\n".join(lines)


def charts(run: ScaleRun, folder: Path) -> list[Path]:
    """Latency (p50) and recall@10 against the number of documents, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = [s.docs for s in run.sizes]
    names = [r.variant for r in run.sizes[0].rows] if run.sizes else []
    written = []
    for name, label, value in (
        ("scale-latency.png", "p50 latency (ms)", lambda r: r.p50_ms),
        ("scale-recall.png", "recall@10 against exact", lambda r: r.recall_at_10),
    ):
        figure, axes = plt.subplots(figsize=(7, 4.5))
        for variant in names:
            points = [
                (d, value(r))
                for d, s in zip(docs, run.sizes, strict=True)
                for r in s.rows
                if r.variant == variant and value(r) is not None
            ]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=variant)
        axes.set_xscale("log")
        axes.set_xlabel("documents")
        axes.set_ylabel(label)
        axes.set_title(f"{label}, {run.engine}")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
        figure.tight_layout()
        path = folder / name
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written

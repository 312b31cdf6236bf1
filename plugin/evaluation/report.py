"""Write an evaluation: JSON, a Markdown table, and PNG charts (matplotlib, the eval extra)."""

from __future__ import annotations

import json
from pathlib import Path

from tandem.encoders.passages import Lengths
from tandem.plugin.ingest.passages import length_lines

from .runner import EvalResult

COLUMNS = ("ndcg@10", "recall@100", "mrr@10", "p50_ms", "p99_ms")
# Published nDCG@10 figures to read ours against (BEIR paper and model cards).
ANCHORS = {
    "scifact": "BM25 flat 0.679 (R@100 0.925), BM25 multifield 0.665, "
    "all-MiniLM-L6-v2 0.645, SPLADE++ ED 0.704; stemmed BM25 reference (bm25s) 0.676",
    "cranfield": "no standard nDCG@10; stemmed BM25 reference (bm25s) 0.352",
    "cisi": "stemmed BM25 reference (bm25s) 0.373",
}


def markdown(result: EvalResult, anchors: str | None = None) -> str:
    """One table: a row per method, the best value of each quality column in bold."""
    best = {
        c: max(row[c] for row in result.methods.values()) for c in COLUMNS if not c.endswith("ms")
    }
    lines = [
        f"**{result.dataset}** on {result.engine}: {result.documents:,} documents, "
        f"{result.queries} judged queries"
        + (", long documents split into passages" if result.passages else ""),
        "",
        "| method | fusion | nDCG@10 | R@100 | MRR@10 | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, row in result.methods.items():
        cells = []
        for c in COLUMNS:
            text = f"{row[c]:.1f}" if c.endswith("ms") else f"{row[c]:.4f}"
            cells.append(f"**{text}**" if c in best and row[c] == best[c] else text)
        lines.append(f"| {method} | {result.modes.get(method, '')} | " + " | ".join(cells) + " |")
    if result.reference is not None:
        ref = result.reference
        lines.append(
            f"| reference: stemmed BM25 (bm25s) | | {ref['ndcg@10']:.4f} | "
            f"{ref['recall@100']:.4f} | {ref['mrr@10']:.4f} | - | - |"
        )
    gains = result.comparisons()
    if gains:
        names = {
            "over_best_single": "the best single method",
            "over_dense": "dense",
            "over_reference": "the stemmed BM25 reference",
        }
        said = ", ".join(f"{v:+.1f}% over {names[k]}" for k, v in gains.items())
        lines += ["", f"Hybrid (the better of rrf and linear), nDCG@10: {said}."]
    if result.lengths:
        lines += ["", *(f"- {line}" for line in length_lines_of(result))]
    if anchors:
        lines += ["", f"Published anchors: {anchors}"]
    return "\n".join(lines) + "\n"


def length_lines_of(result: EvalResult) -> list[str]:
    """What long documents became, per model, as the ingest reported it."""
    lengths = {model: Lengths(**seen) for model, seen in result.lengths.items()}
    return length_lines(lengths)


def charts(result: EvalResult, folder: Path) -> list[Path]:
    """``quality.png`` (bars per metric and method) and ``latency_quality.png`` (p50
    latency against nDCG@10)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("charts need the eval extra: pip install 'tandem-search[eval]'") from err
    methods = list(result.methods)
    title = f"{result.dataset} on {result.engine}"
    figure, axes = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / 3
    for i, metric in enumerate(("ndcg@10", "recall@100", "mrr@10")):
        xs = [j + (i - 1) * width for j in range(len(methods))]
        bars = axes.bar(xs, [result.methods[m][metric] for m in methods], width, label=metric)
        axes.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    axes.set_xticks(range(len(methods)), methods)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("score")
    axes.set_title(f"Quality: {title}")
    axes.legend(loc="lower right")
    quality = folder / "quality.png"
    figure.tight_layout()
    figure.savefig(quality, dpi=120)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, 4.5))
    for m in methods:
        row = result.methods[m]
        axes.scatter(row["p50_ms"], row["ndcg@10"], s=60)
        axes.annotate(m, (row["p50_ms"], row["ndcg@10"]), textcoords="offset points", xytext=(6, 4))
    axes.set_xlabel("p50 latency per query (ms, encode + engine + fusion)")
    axes.set_ylabel("nDCG@10")
    axes.set_title(f"Latency vs quality: {title}")
    axes.grid(alpha=0.3)
    scatter = folder / "latency_quality.png"
    figure.tight_layout()
    figure.savefig(scatter, dpi=120)
    plt.close(figure)
    return [quality, scatter]


def write(result: EvalResult, folder: Path) -> list[Path]:
    """``results.json``, ``results.md`` and the charts under ``folder``."""
    anchors = ANCHORS.get(result.dataset.lower())
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "results.json"
    json_path.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    md_path = folder / "results.md"
    md_path.write_text(markdown(result, anchors))
    return [json_path, md_path, *charts(result, folder)]

"""Run every method over a dataset's queries on one engine and score the runs.

The corpus is indexed once per content: the index name carries a digest of the
corpus file, the models and the mapping, so a second ``tandem eval`` on the
same data reuses the index, and a changed corpus gets a fresh one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.sparse import SpladeEncoder
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.index.mapping import sparse_type_for
from tandem.plugin.index.spec import Passages
from tandem.plugin.ingest.documents import Document
from tandem.plugin.ingest.fill import fill_index, holds
from tandem.plugin.ingest.passages import length_lines
from tandem.plugin.ingest.pipeline import IngestReport
from tandem.plugin.ingest.progress import ProgressLine
from tandem.plugin.search.names import METHODS
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from .data import Dataset, content_hash, coverage_warning
from .metrics import latency, relevance
from .reference import stemmed_bm25

DEPTH = 100  # hits per query: enough for recall@100
Say = Callable[[str], None]


@dataclass(frozen=True)
class EvalOptions:
    methods: tuple[str, ...] = METHODS
    mode: str = "auto"
    depth: int = DEPTH
    # Also score the stemmed BM25 reference (bm25s) on the same queries.
    reference: bool = True
    # Split long documents into passages (nested dense vectors; max-pooled sparse too
    # with passages.sparse).
    passages: Passages | None = None

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(
                f"--methods: unknown {unknown or 'empty list'}; choose from {', '.join(METHODS)}"
            )


@dataclass
class EvalResult:
    dataset: str
    engine: str
    documents: int
    queries: int
    index: str
    reused_index: bool
    methods: dict[str, dict[str, float]] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    reference: dict[str, float] | None = None
    passages: bool = False
    # Per model: texts longer than its window and the tokens past it (a fresh index only).
    lengths: dict[str, dict[str, int]] = field(default_factory=dict)

    def comparisons(self) -> dict[str, float]:
        """nDCG@10 gains, in percent, of the best hybrid (rrf or linear) over the best
        single method, over dense, and over the stemmed BM25 reference (those present)."""
        ndcg = {m: row["ndcg@10"] for m, row in self.methods.items()}
        hybrids = [m for m in ("rrf", "linear") if m in ndcg]
        singles = [m for m in ("bm25", "dense", "sparse") if m in ndcg]
        if not hybrids:
            return {}
        best = max(ndcg[m] for m in hybrids)
        out: dict[str, float] = {}
        if singles:
            out["over_best_single"] = _gain(best, max(ndcg[m] for m in singles))
        if "dense" in ndcg:
            out["over_dense"] = _gain(best, ndcg["dense"])
        if self.reference is not None:
            out["over_reference"] = _gain(best, self.reference["ndcg@10"])
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "engine": self.engine,
            "documents": self.documents,
            "queries": self.queries,
            "index": self.index,
            "reused_index": self.reused_index,
            "methods": self.methods,
            "modes": self.modes,
            "reference": self.reference,
            "comparisons": self.comparisons(),
            "passages": self.passages,
            "lengths": self.lengths,
        }


def _gain(value: float, base: float) -> float:
    return 100.0 * (value - base) / base if base else 0.0


def passage_suffix(passages: Passages | None) -> str:
    """``-passages`` (``-passages-sparse`` when the sparse model splits too), or nothing."""
    if passages is None:
        return ""
    return "-passages-sparse" if passages.sparse else "-passages"


def index_name(
    dataset: Dataset, dense_model: str, sparse_model: str, passages: Passages | None = None
) -> str:
    """``tandem-eval-<dataset>[-passages]-<digest of corpus, models and mapping version>``."""
    layout = passage_suffix(passages)
    digest = content_hash([dataset.corpus], dense_model, sparse_model, f"v2{layout}")
    return f"tandem-eval-{dataset.name.lower()}{layout}-{digest}"


def ensure_index(
    adapter: EngineAdapter,
    dataset: Dataset,
    dense: DenseEncoder,
    sparse: SpladeEncoder,
    say: Say,
    passages: Passages | None = None,
) -> tuple[str, int, IngestReport | None]:
    """The dataset's index (created and filled unless a complete one exists), and the
    ingest report when it was filled now."""
    docs = [d for d in dataset.documents() if isinstance(d, Document)]
    warning = coverage_warning(dataset, {d.id for d in docs})
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    name = index_name(dataset, dense.spec.name, sparse.spec.name, passages)
    if holds(adapter, name, len(docs)):
        say(f"reusing index {name} ({len(docs):,} documents, same content)")
        return name, len(docs), None
    layout = " (long documents split into passages)" if passages is not None else ""
    say(f"indexing {len(docs):,} documents of {dataset.name} into {name}{layout}")
    report = fill_index(adapter, name, docs, dense, sparse, ProgressLine(), passages)
    if report.failures:
        first = report.failures[0]
        raise RuntimeError(
            f"{len(report.failures)} documents failed to index (first: {first.id}: {first.reason})"
        )
    return name, len(docs), report


def _progress(method: str, done: int, total: int) -> None:
    print(f"\r· {method}: {done}/{total} queries", end="", file=sys.stderr, flush=True)


def run_method(
    searcher: Searcher, index: str, dataset: Dataset, method: str, options: EvalOptions
) -> tuple[dict[str, dict[str, float]], list[float], str]:
    """The run ``{query: {doc: score}}``, per-query latencies and the fusion mode used."""
    search_options = SearchOptions(
        method=method,  # type: ignore[arg-type]
        size=options.depth,
        window=options.depth,
        mode=options.mode,  # type: ignore[arg-type]
    )
    run: dict[str, dict[str, float]] = {}
    seconds: list[float] = []
    mode = "single"
    total = len(dataset.queries)
    for i, (qid, text) in enumerate(dataset.queries.items(), start=1):
        started = time.perf_counter()
        result = searcher.search(index, text, search_options)
        seconds.append(time.perf_counter() - started)
        mode = result.mode
        # Rank order is what counts; ranks as scores keep ties broken as Tandem broke them.
        run[qid] = {hit.id: float(len(result.hits) - r) for r, hit in enumerate(result.hits)}
        if i % 10 == 0 or i == total:
            _progress(method, i, total)
    print(file=sys.stderr)
    return run, seconds, mode


def evaluate(
    adapter: EngineAdapter,
    dataset: Dataset,
    dense: DenseEncoder,
    sparse: SpladeEncoder,
    options: EvalOptions,
    say: Say,
) -> EvalResult:
    """Index (or reuse), run each method, and score it."""
    index, count, report = ensure_index(adapter, dataset, dense, sparse, say, options.passages)
    caps = adapter.capabilities
    searcher = Searcher(adapter, dense, sparse, sparse_type_for(caps))
    result = EvalResult(
        dataset.name,
        f"{caps.kind.value} {caps.version_text}",
        count,
        len(dataset.queries),
        index,
        report is None,
        passages=options.passages is not None,
    )
    if report is not None:
        result.lengths = {model: seen.as_dict() for model, seen in report.lengths.items()}
        for line in length_lines(report.lengths):
            say(line)
    for method in options.methods:
        run, seconds, mode = run_method(searcher, index, dataset, method, options)
        result.methods[method] = {**relevance(run, dataset.qrels), **latency(seconds)}
        result.modes[method] = mode
        row = result.methods[method]
        say(
            f"{method:7} nDCG@10 {row['ndcg@10']:.4f}  R@100 {row['recall@100']:.4f}  "
            f"MRR@10 {row['mrr@10']:.4f}  p50 {row['p50_ms']:.1f} ms  p99 {row['p99_ms']:.1f} ms"
        )
    if options.reference:
        docs = [d for d in dataset.documents() if isinstance(d, Document)]
        result.reference = stemmed_bm25(dataset, docs)
        say(f"stemmed BM25 reference (bm25s) nDCG@10 {result.reference['ndcg@10']:.4f}")
    return result


def methods_from(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())

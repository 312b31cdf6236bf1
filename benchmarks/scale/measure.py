"""Measure one size: latency per variant, recall against exact scoring, engine footprint.

Every variant runs through :class:`~tandem.plugin.search.searcher.Searcher` as a
user's search does, query encoding included, one query at a time and interleaved
query by query so that load on the machine hits every variant alike. The top 10
of each call is compared with the exact top 10:

* **dense**: HNSW kNN against the exact cosine ranking;
* **sparse** variants against the exact dot product of the *full* SPLADE query
  (so a pruned or inference-free query shows what it gives up), and the full
  query also against itself as a check of the engine's sparse scoring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.common import percentiles
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import Pruning, SparseVector, SpladeEncoder
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from .exact import SparseIndex, dense_top_k, recall
from .load import Store

K = 10


@dataclass(frozen=True)
class Variant:
    name: str
    searcher: Searcher
    options: SearchOptions
    # The exact ranking its top 10 is compared with, if any: "dense" or "sparse".
    reference: str | None = None


@dataclass(frozen=True)
class Row:
    variant: str
    p50_ms: float
    p99_ms: float
    recall_at_10: float | None


@dataclass(frozen=True)
class Footprint:
    store_bytes: int
    segments: int
    heap_used_bytes: int
    heap_max_bytes: int
    rss_bytes: int | None


@dataclass(frozen=True)
class SizeResult:
    docs: int
    load_seconds: float
    rows: list[Row]
    footprint: Footprint


@dataclass
class ScaleRun:
    engine: str
    real: int
    queries: int
    prune_k: int
    sizes: list[SizeResult] = field(default_factory=list)
    not_measured: dict[str, str] = field(default_factory=dict)


class PrunedSplade:
    """The SPLADE query side keeping only its ``top_k`` heaviest terms."""

    def __init__(self, splade: SpladeEncoder, top_k: int) -> None:
        self.splade = splade
        self.pruning = Pruning(top_k=top_k)

    def encode(self, texts: Sequence[str]) -> list[SparseVector]:
        return self.splade.encode(texts, self.pruning)


@dataclass(frozen=True)
class Reference:
    """The queries' exact top 10s at one size."""

    dense: list[list[int]]
    sparse: list[list[int]]

    @classmethod
    def of(
        cls,
        store: Store,
        sparse_index: SparseIndex,
        queries: Sequence[str],
        dense: DenseEncoder,
        splade: SpladeEncoder,
    ) -> Reference:
        n = len(store)
        vectors = np.asarray(dense.encode(queries, InputKind.QUERY), dtype=np.float32)
        terms = [
            dict(zip(s.ids.tolist(), s.weights.tolist(), strict=True))
            for s in splade.encode(queries)
        ]
        return cls(
            [dense_top_k(store.dense, v, n, K) for v in vectors],
            [sparse_index.top_k(t, n, K) for t in terms],
        )


def measure(
    variants: Sequence[Variant],
    index: str,
    queries: Sequence[str],
    reference: Reference,
    warm_up: int = 5,
) -> list[Row]:
    for variant in variants:
        for text in queries[:warm_up]:
            variant.searcher.search(index, text, variant.options)
    seconds: dict[str, list[float]] = {v.name: [] for v in variants}
    recalls: dict[str, list[float]] = {v.name: [] for v in variants}
    for q, text in enumerate(queries):
        for variant in variants:
            started = time.perf_counter()
            result = variant.searcher.search(index, text, variant.options)
            seconds[variant.name].append(time.perf_counter() - started)
            if variant.reference is not None:
                exact = getattr(reference, variant.reference)[q]
                recalls[variant.name].append(recall([h.id for h in result.hits[:K]], exact))
    rows = []
    for variant in variants:
        p50, p99, _ = percentiles(seconds[variant.name])
        found = recalls[variant.name]
        rows.append(Row(variant.name, p50, p99, float(np.mean(found)) if found else None))
    return rows


def footprint(adapter: EngineAdapter, index: str, rss: Callable[[int], int | None]) -> Footprint:
    stats = adapter.request("GET", f"/{index}/_stats/store,segments", what="read index stats")
    primaries = stats["indices"][index]["primaries"]
    nodes = adapter.request("GET", "/_nodes/stats/jvm,process", what="read node stats")["nodes"]
    jvm = [node["jvm"]["mem"] for node in nodes.values()]
    info = adapter.request("GET", "/_nodes/process", what="read node info")["nodes"]
    pids = [node["process"]["id"] for node in info.values()]
    sizes = [rss(pid) for pid in pids]
    return Footprint(
        int(primaries["store"]["size_in_bytes"]),
        int(primaries["segments"]["count"]),
        sum(int(m["heap_used_in_bytes"]) for m in jvm),
        sum(int(m["heap_max_in_bytes"]) for m in jvm),
        None if None in sizes else sum(s or 0 for s in sizes),
    )


def local_rss(pid: int) -> int | None:
    """Resident memory of an engine process on this machine (``None`` if it is elsewhere)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"org.opensearch" not in command and b"org.elasticsearch" not in command:
            return None
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None

"""The encoder benchmark's measuring tools: the documents, best-of timing, numpy's matmul
rate, tokenisation alone, FLOP counts, the throughput, latency and sorting passes, and
peak RSS in a fresh process."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import common
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.registry import ModelSpec
from tandem.encoders.sources import checkpoint_dir
from tandem.encoders.text import DEFAULT_MAX_TOKENS, TextBatcher

from .records import (
    BATCH_SIZE,
    ComputeEfficiency,
    Config,
    Encoder,
    Latency,
    Memory,
    SortGain,
    Throughput,
    Variant,
)

LATENCY_WARMUP = 5


# --------------------------------------------------------------------------- data


def load_documents(folder: Path, count: int, seed: int) -> list[str]:
    """A fixed random sample of ``title + " " + text`` documents."""
    rows = common.read_jsonl(folder / "corpus.jsonl")
    texts = [f"{row.get('title', '')} {row.get('text', '')}".strip() for row in rows]
    texts = [t for t in texts if t]
    return texts if count >= len(texts) else random.Random(seed).sample(texts, count)


# --------------------------------------------------------------------------- timing helpers


def best_of(action: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed runs: robust to other work on a shared machine."""
    return min(common.timed(action) for _ in range(max(1, repeats)))


def matmul_gflops(seconds: float, rounds: int = 4, size: int = 1024) -> float:
    """Best-round float32 GEMM rate of numpy's BLAS (all cores), in GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    flops = 2.0 * size**3
    best = 0.0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        deadline = start + seconds / rounds
        while True:
            np.matmul(a, b, out=c)
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count * flops / (now - start) / 1e9)
    return best


# --------------------------------------------------------------------------- tokenisation


@dataclass(frozen=True)
class Tokenized:
    """What the batcher alone produced, and how long it took."""

    seconds: float
    shapes: tuple[tuple[int, int], ...]
    real_tokens: int

    @property
    def padded_tokens(self) -> int:
        """Token positions in the padded batches."""
        return sum(rows * width for rows, width in self.shapes)


def tokenize_only(batcher: TextBatcher, docs: Sequence[str], sort: bool = True) -> Tokenized:
    """The encoders' batches of ``docs`` made by the batcher alone, timed."""
    start = time.perf_counter()
    # The same batches the encoders make: at most BATCH_SIZE rows and DEFAULT_MAX_TOKENS.
    batches = list(batcher.batches(docs, BATCH_SIZE, sort, DEFAULT_MAX_TOKENS))
    seconds = time.perf_counter() - start
    shapes = tuple((int(b.input_ids.shape[0]), int(b.input_ids.shape[1])) for b in batches)
    return Tokenized(seconds, shapes, sum(b.tokens for b in batches))


@dataclass(frozen=True)
class _BertSize:
    hidden: int
    intermediate: int
    layers: int

    @classmethod
    def of(cls, spec: ModelSpec) -> _BertSize:
        config = json.loads((checkpoint_dir(spec) / "config.json").read_text())
        return cls(config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"])

    def flops(self, rows: int, width: int) -> float:
        """Encoder-layer FLOPs for one padded ``[rows, width]`` batch (embeddings excluded)."""
        h, i = self.hidden, self.intermediate
        per_token = 2 * (4 * h * h + 2 * h * i) + 2 * 2 * width * h
        return float(rows * width * self.layers * per_token)


# --------------------------------------------------------------------------- measurements


def measure_throughput(
    variant: Variant, encoder: Encoder, docs: Sequence[str], repeats: int
) -> tuple[Throughput, Tokenized]:
    """Docs/s of ``encoder.encode(docs)`` (best of ``repeats``), and its batches' shapes."""
    encoder.encode(docs[:BATCH_SIZE])  # warm-up
    seconds = best_of(lambda: encoder.encode(docs), repeats)
    passes = (tokenize_only(encoder.batcher, docs) for _ in range(max(1, repeats)))
    tokens = min(passes, key=lambda t: t.seconds)
    row = Throughput(
        label=variant.label,
        model=variant.model,
        precision=variant.precision,
        max_length=variant.max_length,
        docs=len(docs),
        seconds=seconds,
        docs_per_s=len(docs) / seconds,
        tokenize_seconds=tokens.seconds,
        tokenizer_share=tokens.seconds / seconds,
        real_tokens=tokens.real_tokens,
        padded_tokens=tokens.padded_tokens,
    )
    return row, tokens


def measure_latency(label: str, encode: Callable[[str], object], queries: Sequence[str]) -> Latency:
    """Per-call time of ``encode(query)`` over ``queries``, after a few warm-up calls."""
    for query in queries[:LATENCY_WARMUP]:
        encode(query)
    samples = [common.timed(partial(encode, query)) for query in queries]
    p50, p99, mean = common.percentiles(samples)
    return Latency(label, len(queries), p50, p99, mean)


def measure_sort_gain(
    variant: Variant,
    encoder: DenseEncoder,
    docs: Sequence[str],
    sorted_row: Throughput,
    repeats: int,
) -> SortGain:
    """Unsorted batches timed against the (sorted) throughput row of the same encoder."""
    seconds = best_of(lambda: encoder.encode(docs, sort=False), repeats)
    unsorted = len(docs) / seconds
    return SortGain(
        label=variant.label,
        sorted_docs_per_s=sorted_row.docs_per_s,
        unsorted_docs_per_s=unsorted,
        sorted_padded_tokens=sorted_row.padded_tokens,
        unsorted_padded_tokens=tokenize_only(encoder.batcher, docs, sort=False).padded_tokens,
        ratio=sorted_row.docs_per_s / unsorted,
    )


def compute_efficiency(
    variant: Variant, row: Throughput, tokens: Tokenized, peak: float
) -> ComputeEfficiency:
    """The GFLOP/s a throughput row reached over its padded batch shapes, against ``peak``."""
    size = _BertSize.of(variant.spec)
    flops = sum(size.flops(rows, width) for rows, width in tokens.shapes)
    gflops = flops / row.seconds / 1e9
    return ComputeEfficiency(variant.label, flops / 1e9, row.seconds, gflops, peak, gflops / peak)


# --------------------------------------------------------------------------- peak RSS


def rss_mb() -> float:
    """Peak resident set size of this process so far (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def vm_hwm_mb() -> float | None:
    """Linux's own high-water mark of this address space (reset at exec), as a cross-check."""
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return None


def measure_memory(config: Config) -> Memory:
    """:func:`benchmarks.encoders.runner.rss_probe`'s answer, from a fresh ``--rss-probe``
    process."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.encoders",
        "--rss-probe",
        "--data",
        str(config.data),
        "--docs",
        str(config.docs),
        "--rss-docs",
        str(config.rss_docs),
    ]
    result = subprocess.run(
        command, cwd=common.REPO_ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"RSS probe failed:\n{result.stderr}")
    return Memory(**json.loads(result.stdout))

"""One encoder benchmark run: peak RSS first, then the matmul rate, every model at every
precision and length, and the FastEmbed peer; and the RSS probe the first step starts."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import onnxruntime as ort

from benchmarks import common
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import text_batcher
from tandem.encoders.session import available_providers

from .contenders import encode_query, fastembed_peer, load_encoder, measure_naive
from .harness import (
    compute_efficiency,
    load_documents,
    matmul_gflops,
    measure_latency,
    measure_memory,
    measure_sort_gain,
    measure_throughput,
    rss_mb,
    tokenize_only,
    vm_hwm_mb,
)
from .records import (
    BATCH_SIZE,
    LENGTHS,
    NAIVE_LENGTH,
    SEED,
    ComputeEfficiency,
    Config,
    Environment,
    Latency,
    Memory,
    NaiveComparison,
    Report,
    SortGain,
    Throughput,
    Variant,
)


@dataclass
class _Collected:
    throughput: list[Throughput] = dataclasses.field(default_factory=list)
    latency: list[Latency] = dataclasses.field(default_factory=list)
    naive: list[NaiveComparison] = dataclasses.field(default_factory=list)
    compute: list[ComputeEfficiency] = dataclasses.field(default_factory=list)
    sort_gain: SortGain | None = None


def _measure_model(
    model: str,
    int8: bool,
    docs: Sequence[str],
    queries: Sequence[str],
    config: Config,
    peak: float,
    found: _Collected,
) -> None:
    """Every measurement for one model and precision, across its truncation lengths."""
    for index, max_length in enumerate(LENGTHS[model]):
        variant = Variant(model, int8, max_length)
        common.log(f"  {variant.label}")
        encoder = load_encoder(variant)
        row, tokens = measure_throughput(variant, encoder, docs, config.repeats)
        found.throughput.append(row)
        if model == "minilm" and not int8:
            found.compute.append(compute_efficiency(variant, row, tokens, peak))
        if index > 0:
            continue  # latency, baseline and sorting at the model's own length only
        found.latency.append(
            measure_latency(variant.label, partial(encode_query, encoder), queries)
        )
        if not int8:
            subset = docs[: config.naive_docs]
            found.naive.append(measure_naive(variant, encoder, subset, config.repeats))
        if isinstance(encoder, DenseEncoder) and not int8:
            found.sort_gain = measure_sort_gain(variant, encoder, docs, row, config.repeats)


def _environment(started: common.Started) -> Environment:
    return Environment(
        cpus=common.cpu_count(),
        python=platform.python_version(),
        onnxruntime=ort.__version__,
        numpy=np.__version__,
        providers=available_providers(),
        load_avg_start=started.load_avg,
        load_avg_end=common.load_average(),
    )


def run(config: Config) -> Report:
    """Every measurement of ``config``, in one process (and one fresh one for peak RSS)."""
    started = common.Started.now()
    docs = load_documents(config.data, config.docs, SEED)
    queries = common.load_queries(config.data, config.queries)
    # First, while this process is small: a child's ru_maxrss starts at its parent's RSS.
    common.log("peak RSS (fresh subprocess)")
    memory = measure_memory(config)
    common.log(f"measuring numpy float32 matmul for {config.matmul_seconds:.1f} s")
    peak = matmul_gflops(config.matmul_seconds)
    collected = _Collected()
    for model in LENGTHS:
        for int8 in (False, True):
            _measure_model(model, int8, docs, queries, config, peak, collected)
    if collected.sort_gain is None:
        raise RuntimeError("no dense fp32 model was measured")
    common.log("  fastembed")
    reference = Variant("minilm", False, LENGTHS["minilm"][0]).label
    ours = next(r for r in collected.throughput if r.label == reference)
    ours_latency = next(lat for lat in collected.latency if lat.label == ours.label)
    peer = fastembed_peer(docs, queries, ours, ours_latency, config.repeats)
    tokens = tokenize_only(text_batcher(Variant("minilm", False, NAIVE_LENGTH).spec), docs)
    return Report(
        data=str(config.data),
        docs=len(docs),
        mean_doc_tokens=tokens.real_tokens / len(docs),
        queries=len(queries),
        batch_size=BATCH_SIZE,
        repeats=config.repeats,
        matmul_gflops=peak,
        throughput=collected.throughput,
        latency=collected.latency,
        naive=collected.naive,
        sort_gain=collected.sort_gain,
        compute=collected.compute,
        peer=peer,
        memory=memory,
        environment=_environment(started),
        total_seconds=started.seconds(),
    )


def rss_probe(config: Config) -> Memory:
    """Runs in a fresh process: load MiniLM and splade-tiny fp32, encode batches of 32."""
    docs = load_documents(config.data, config.docs, SEED)[: config.rss_docs]
    before_load = rss_mb()
    dense = load_encoder(Variant("minilm", False, LENGTHS["minilm"][0]))
    sparse = load_encoder(Variant("splade-tiny", False, LENGTHS["splade-tiny"][0]))
    after_load = rss_mb()
    for start in range(0, len(docs), BATCH_SIZE):
        chunk = docs[start : start + BATCH_SIZE]
        dense.encode(chunk)
        sparse.encode(chunk)
    return Memory(len(docs), before_load, after_load, rss_mb(), vm_hwm_mb())

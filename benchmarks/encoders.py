"""Encoder speed on SciFact: throughput, latency, baselines, a peer and memory, in one run.

Run from the repository root::

    python -m benchmarks.encoders [--docs N] [--queries N] [--quick] [--json]

Every number printed is measured in this run (``time.perf_counter``); nothing is
hard-coded. See ``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from benchmarks import common
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import ensure_onnx, load_dense, load_sparse, onnx_dir, text_batcher
from tandem.encoders.pooling import l2_normalize, mean_pool, splade_max
from tandem.encoders.registry import KNOWN_MODELS, InputKind, ModelKind, ModelSpec
from tandem.encoders.session import available_providers
from tandem.encoders.sources import checkpoint_dir
from tandem.encoders.sparse import Pruning, SpladeEncoder, to_sparse, vocabulary_of
from tandem.encoders.text import DEFAULT_MAX_TOKENS, Batching, TextBatcher

SEED = 0  # of the fixed random document sample
BATCH_SIZE = 32
NAIVE_LENGTH = 512
LATENCY_WARMUP = 5
# Each model at its own default length first, then truncated at 128 tokens.
LENGTHS: dict[str, tuple[int, ...]] = {"minilm": (256, 128), "splade-tiny": (512, 128)}
FASTEMBED_NAME = "tandem/minilm"
FASTEMBED_FILES = ("config.json", "tokenizer.json", "special_tokens_map.json", "vocab.txt")

Encoder = DenseEncoder | SpladeEncoder


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    data: Path
    docs: int
    queries: int
    naive_docs: int
    rss_docs: int
    matmul_seconds: float
    repeats: int


@dataclass(frozen=True)
class Variant:
    """One model, precision and truncation length."""

    model: str
    int8: bool
    max_length: int

    @property
    def precision(self) -> str:
        return "int8" if self.int8 else "fp32"

    @property
    def label(self) -> str:
        return f"{self.model} {self.precision} @{self.max_length}"

    @property
    def spec(self) -> ModelSpec:
        return dataclasses.replace(KNOWN_MODELS[self.model], max_length=self.max_length)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Throughput:
    label: str
    model: str
    precision: str
    max_length: int
    docs: int
    seconds: float
    docs_per_s: float
    tokenize_seconds: float
    tokenizer_share: float
    real_tokens: int
    padded_tokens: int


@dataclass(frozen=True)
class Latency:
    label: str
    queries: int
    p50_ms: float
    p99_ms: float
    mean_ms: float


@dataclass(frozen=True)
class NaiveComparison:
    model: str
    docs: int
    naive_docs_per_s: float
    ours_docs_per_s: float
    ours_max_length: int
    speedup: float


@dataclass(frozen=True)
class SortGain:
    label: str
    sorted_docs_per_s: float
    unsorted_docs_per_s: float
    sorted_padded_tokens: int
    unsorted_padded_tokens: int
    ratio: float


@dataclass(frozen=True)
class ComputeEfficiency:
    label: str
    gflop: float
    seconds: float
    gflops: float
    matmul_gflops: float
    fraction_of_matmul: float


@dataclass(frozen=True)
class Peer:
    name: str
    installed: bool
    version: str = ""
    note: str = ""
    docs_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    ours_docs_per_s: float = 0.0
    ours_p50_ms: float = 0.0
    min_cosine_vs_ours: float = 0.0


@dataclass(frozen=True)
class Memory:
    docs: int
    before_load_mb: float
    after_load_mb: float
    peak_rss_mb: float
    vm_hwm_mb: float | None


@dataclass(frozen=True)
class Environment:
    cpus: int
    python: str
    onnxruntime: str
    numpy: str
    providers: list[str]
    load_avg_start: float
    load_avg_end: float


@dataclass(frozen=True)
class Report:
    data: str
    docs: int
    mean_doc_tokens: float
    queries: int
    batch_size: int
    repeats: int
    matmul_gflops: float
    throughput: list[Throughput]
    latency: list[Latency]
    naive: list[NaiveComparison]
    sort_gain: SortGain
    compute: list[ComputeEfficiency]
    peer: Peer
    memory: Memory
    environment: Environment
    total_seconds: float


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
        return sum(rows * width for rows, width in self.shapes)


def tokenize_only(batcher: TextBatcher, docs: Sequence[str], sort: bool = True) -> Tokenized:
    start = time.perf_counter()
    # The same batches the encoders make: at most BATCH_SIZE rows and DEFAULT_MAX_TOKENS.
    batches = list(batcher.batches(docs, BATCH_SIZE, sort, DEFAULT_MAX_TOKENS))
    seconds = time.perf_counter() - start
    shapes = tuple((int(b.input_ids.shape[0]), int(b.input_ids.shape[1])) for b in batches)
    return Tokenized(seconds, shapes, sum(b.tokens for b in batches))


@dataclass(frozen=True)
class BertSize:
    hidden: int
    intermediate: int
    layers: int

    @classmethod
    def of(cls, spec: ModelSpec) -> BertSize:
        config = json.loads((checkpoint_dir(spec) / "config.json").read_text())
        return cls(config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"])

    def flops(self, rows: int, width: int) -> float:
        """Encoder-layer FLOPs for one padded ``[rows, width]`` batch (embeddings excluded)."""
        h, i = self.hidden, self.intermediate
        per_token = 2 * (4 * h * h + 2 * h * i) + 2 * 2 * width * h
        return float(rows * width * self.layers * per_token)


# --------------------------------------------------------------------------- our encoders


def load_encoder(variant: Variant) -> Encoder:
    spec = variant.spec
    encoder: Encoder = (
        load_dense(spec, variant.int8)
        if spec.kind is ModelKind.DENSE
        else load_sparse(spec, variant.int8)
    )
    encoder.batching = Batching(rows=BATCH_SIZE)
    return encoder


def encode_docs(encoder: Encoder, docs: Sequence[str]) -> object:
    return encoder.encode(docs)


def encode_query(encoder: Encoder, query: str) -> object:
    if isinstance(encoder, DenseEncoder):
        return encoder.encode([query], kind=InputKind.QUERY)
    return encoder.encode([query])


def measure_throughput(
    variant: Variant, encoder: Encoder, docs: Sequence[str], repeats: int
) -> tuple[Throughput, Tokenized]:
    encode_docs(encoder, docs[:BATCH_SIZE])  # warm-up
    seconds = best_of(lambda: encode_docs(encoder, docs), repeats)
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
    size = BertSize.of(variant.spec)
    flops = sum(size.flops(rows, width) for rows, width in tokens.shapes)
    gflops = flops / row.seconds / 1e9
    return ComputeEfficiency(variant.label, flops / 1e9, row.seconds, gflops, peak, gflops / peak)


# --------------------------------------------------------------------------- naive baseline


class NaiveEncoder:
    """A first attempt: default ORT session, one call per text, every text padded to 512."""

    def __init__(self, spec: ModelSpec) -> None:
        self.kind = spec.kind
        self.session = ort.InferenceSession(str(ensure_onnx(spec)), providers=available_providers())
        self.input_names = [i.name for i in self.session.get_inputs()]
        tokenizer = Tokenizer.from_file(str(checkpoint_dir(spec) / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=NAIVE_LENGTH)
        tokenizer.enable_padding(length=NAIVE_LENGTH)
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary_of(text_batcher(spec))

    def encode_one(self, text: str) -> object:
        encoding = self.tokenizer.encode(text)
        arrays = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
        }
        output = self.session.run(None, {name: arrays[name] for name in self.input_names})[0]
        mask = arrays["attention_mask"]
        if self.kind is ModelKind.DENSE:
            return l2_normalize(mean_pool(output, mask))
        return to_sparse(splade_max(output, mask)[0], self.vocabulary, Pruning())

    def encode(self, texts: Sequence[str]) -> list[object]:
        return [self.encode_one(text) for text in texts]


def measure_naive(
    variant: Variant, encoder: Encoder, docs: Sequence[str], repeats: int
) -> NaiveComparison:
    naive = NaiveEncoder(variant.spec)
    naive.encode(docs[:1])  # warm-up
    naive_seconds = best_of(lambda: naive.encode(docs), repeats)
    ours_seconds = best_of(lambda: encode_docs(encoder, docs), repeats)
    return NaiveComparison(
        model=f"{variant.model} {variant.precision}",
        docs=len(docs),
        naive_docs_per_s=len(docs) / naive_seconds,
        ours_docs_per_s=len(docs) / ours_seconds,
        ours_max_length=variant.max_length,
        speedup=naive_seconds / ours_seconds,
    )


# --------------------------------------------------------------------------- FastEmbed peer


def stage_fastembed_model(spec: ModelSpec, folder: Path) -> Path:
    """Our exported fp32 ONNX file plus the checkpoint's tokenizer files, by symlink.

    ``tokenizer_config.json`` is written (not linked) with ``model_max_length`` set to
    the spec's length, so FastEmbed truncates where we do.
    """
    checkpoint = checkpoint_dir(spec)
    (folder / "model.onnx").symlink_to(onnx_dir(spec) / "model.onnx")
    for name in FASTEMBED_FILES:
        if (checkpoint / name).is_file():
            (folder / name).symlink_to(checkpoint / name)
    config = json.loads((checkpoint / "tokenizer_config.json").read_text())
    config["model_max_length"] = spec.max_length
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def fastembed_peer(
    docs: Sequence[str],
    queries: Sequence[str],
    ours: Throughput,
    ours_latency: Latency,
    repeats: int,
) -> Peer:
    try:
        # Optional peer: mypy checks this file with or without it installed.
        import fastembed  # type: ignore[import-not-found, unused-ignore]
        from fastembed import TextEmbedding  # type: ignore[import-not-found, unused-ignore]
        from fastembed.common.model_description import ModelSource, PoolingType  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return Peer("fastembed", installed=False, note="fastembed: not installed")
    spec = KNOWN_MODELS["minilm"]
    ensure_onnx(spec)
    TextEmbedding.add_custom_model(
        model=FASTEMBED_NAME,
        pooling=PoolingType.MEAN,
        normalization=True,
        sources=ModelSource(hf=FASTEMBED_NAME),
        dim=384,
        model_file="model.onnx",
    )
    with tempfile.TemporaryDirectory(prefix="tandem-fastembed-") as tmp:
        folder = stage_fastembed_model(spec, Path(tmp))
        model = TextEmbedding(
            model_name=FASTEMBED_NAME, specific_model_path=str(folder), threads=os.cpu_count()
        )

        def embed(texts: Sequence[str], batch_size: int = BATCH_SIZE) -> npt.NDArray[np.float32]:
            return np.asarray(list(model.embed(list(texts), batch_size=batch_size)))

        embed(docs[:BATCH_SIZE])  # warm-up
        seconds = best_of(lambda: embed(docs), repeats)
        latency = measure_latency("fastembed", lambda q: embed([q], 1), queries)
        theirs = embed(queries[:BATCH_SIZE])
    mine = load_dense(spec).encode(queries[:BATCH_SIZE], kind=InputKind.QUERY)
    return Peer(
        name="fastembed",
        installed=True,
        version=str(fastembed.__version__),
        note=(
            f"same fp32 ONNX file and tokenizer, truncation at {spec.max_length}, "
            f"batch {BATCH_SIZE}, no length sorting"
        ),
        docs_per_s=len(docs) / seconds,
        p50_ms=latency.p50_ms,
        p99_ms=latency.p99_ms,
        ours_docs_per_s=ours.docs_per_s,
        ours_p50_ms=ours_latency.p50_ms,
        min_cosine_vs_ours=float(np.min(np.sum(theirs * mine, axis=1))),
    )


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


def measure_memory(config: Config) -> Memory:
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


# --------------------------------------------------------------------------- orchestration


@dataclass
class Collected:
    throughput: list[Throughput] = dataclasses.field(default_factory=list)
    latency: list[Latency] = dataclasses.field(default_factory=list)
    naive: list[NaiveComparison] = dataclasses.field(default_factory=list)
    compute: list[ComputeEfficiency] = dataclasses.field(default_factory=list)
    sort_gain: SortGain | None = None


def measure_model(
    model: str,
    int8: bool,
    docs: Sequence[str],
    queries: Sequence[str],
    config: Config,
    peak: float,
    found: Collected,
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


def run(config: Config) -> Report:
    started = common.Started.now()
    docs = load_documents(config.data, config.docs, SEED)
    queries = common.load_queries(config.data, config.queries)
    # First, while this process is small: a child's ru_maxrss starts at its parent's RSS.
    common.log("peak RSS (fresh subprocess)")
    memory = measure_memory(config)
    common.log(f"measuring numpy float32 matmul for {config.matmul_seconds:.1f} s")
    peak = matmul_gflops(config.matmul_seconds)
    collected = Collected()
    for model in LENGTHS:
        for int8 in (False, True):
            measure_model(model, int8, docs, queries, config, peak, collected)
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
        environment=environment(started),
        total_seconds=started.seconds(),
    )


def environment(started: common.Started) -> Environment:
    return Environment(
        cpus=common.cpu_count(),
        python=platform.python_version(),
        onnxruntime=ort.__version__,
        numpy=np.__version__,
        providers=available_providers(),
        load_avg_start=started.load_avg,
        load_avg_end=common.load_average(),
    )


# --------------------------------------------------------------------------- summary


def percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def throughput_section(report: Report) -> str:
    rows = [
        [
            r.label,
            f"{r.docs_per_s:.1f}",
            f"{r.real_tokens / r.seconds:,.0f}",
            percent(r.tokenizer_share),
            percent(1 - r.real_tokens / r.padded_tokens),
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


def latency_section(report: Report) -> str:
    rows = [[r.label, f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"] for r in report.latency]
    title = f"Single-query latency ({report.queries} SciFact queries, one at a time)"
    return f"{title}\n{common.table(['model', 'p50 ms', 'p99 ms'], rows)}"


def naive_section(report: Report) -> str:
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


def sort_section(s: SortGain) -> str:
    return (
        f"Length sorting ({s.label}): sorted {s.sorted_docs_per_s:.1f} docs/s "
        f"({s.sorted_padded_tokens:,} padded tokens), unsorted {s.unsorted_docs_per_s:.1f} "
        f"docs/s ({s.unsorted_padded_tokens:,}), gain {s.ratio:.2f}x"
    )


def compute_section(report: Report) -> str:
    lines = [f"numpy float32 1024x1024 matmul: {report.matmul_gflops:.1f} GFLOP/s (best round)"]
    lines += [
        f"{c.label}: ~{c.gflop:,.0f} GFLOP in {c.seconds:.2f} s = {c.gflops:.1f} GFLOP/s "
        f"= {100 * c.fraction_of_matmul:.0f}% of the matmul rate"
        for c in report.compute
    ]
    return "Compute efficiency (encoder layers, padded shapes)\n" + "\n".join(lines)


def peer_section(report: Report) -> str:
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


def memory_section(m: Memory) -> str:
    return (
        f"Peak RSS (fresh process, minilm + splade-tiny fp32, {m.docs} docs in batches of "
        f"{BATCH_SIZE}): {m.peak_rss_mb:,.0f} MB "
        f"(before loading {m.before_load_mb:,.0f} MB, after loading {m.after_load_mb:,.0f} MB"
        + (f", VmHWM {m.vm_hwm_mb:,.0f} MB)" if m.vm_hwm_mb is not None else ")")
    )


def summary(report: Report) -> str:
    env = report.environment
    title = (
        f"Tandem encoder benchmark: SciFact {report.docs} docs "
        f"(mean {report.mean_doc_tokens:.0f} tokens, cut at {NAIVE_LENGTH})"
    )
    return common.sections(
        common.header(title, env, report.total_seconds, f"onnxruntime {env.onnxruntime}"),
        throughput_section(report),
        latency_section(report),
        naive_section(report),
        sort_section(report.sort_gain),
        compute_section(report),
        peer_section(report),
        memory_section(report.memory),
    )


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = common.make_parser(
        "python -m benchmarks.encoders", "Encoder speed on SciFact (see benchmarks/README.md)."
    )
    parser.add_argument("--docs", type=int, help="document sample size (default 256)")
    parser.add_argument("--queries", type=int, help="queries for latency (default 200)")
    parser.add_argument("--naive-docs", type=int, help="docs for the naive baseline (32)")
    parser.add_argument("--rss-docs", type=int, help="docs for the peak RSS probe (64)")
    common.add_repeat(parser)
    common.add_run_flags(parser, "small samples, about a minute")
    parser.add_argument("--rss-probe", action="store_true", help=argparse.SUPPRESS)
    return common.parse_positive(
        parser, argv, ("docs", "queries", "naive_docs", "rss_docs", "repeat")
    )


def config_from(args: argparse.Namespace) -> Config:
    return Config(
        data=args.data.resolve(),
        docs=common.pick(args, "docs", 256, 64),
        queries=common.pick(args, "queries", 200, 50),
        naive_docs=common.pick(args, "naive_docs", 32, 8),
        rss_docs=common.pick(args, "rss_docs", 64, 32),
        matmul_seconds=1.0 if args.quick else 2.0,
        repeats=common.pick(args, "repeat", 2, 1),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_from(args)
    if args.rss_probe:
        print(json.dumps(asdict(rss_probe(config))))
        return 0
    if common.data_missing(config.data, "corpus.jsonl", "queries.jsonl"):
        return 2
    report = run(config)
    common.emit(summary(report), asdict(report) if args.json else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

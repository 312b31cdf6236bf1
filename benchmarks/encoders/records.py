"""What the encoder benchmark is given and what it finds: its settings, the variants it
measures and the result records (the shape of the JSON that ``--json`` prints)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.registry import KNOWN_MODELS, ModelSpec
from tandem.encoders.sparse import SpladeEncoder

SEED = 0  # of the fixed random document sample
BATCH_SIZE = 32
NAIVE_LENGTH = 512
# Each model at its own default length first, then truncated at 128 tokens.
LENGTHS: dict[str, tuple[int, ...]] = {"minilm": (256, 128), "splade-tiny": (512, 128)}

Encoder = DenseEncoder | SpladeEncoder


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    """One run's settings: the data, sample sizes, matmul probe time and rounds."""

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
        """``int8`` or ``fp32``."""
        return "int8" if self.int8 else "fp32"

    @property
    def label(self) -> str:
        """The variant's row name, e.g. ``minilm fp32 @256``."""
        return f"{self.model} {self.precision} @{self.max_length}"

    @property
    def spec(self) -> ModelSpec:
        """The model's spec with this variant's truncation length."""
        return dataclasses.replace(KNOWN_MODELS[self.model], max_length=self.max_length)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Throughput:
    """Batch encoding speed of one variant, with its tokeniser's share and padding."""

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
    """One query per call: p50, p99 and mean milliseconds."""

    label: str
    queries: int
    p50_ms: float
    p99_ms: float
    mean_ms: float


@dataclass(frozen=True)
class NaiveComparison:
    """Our encoder against the naive baseline on the same documents."""

    model: str
    docs: int
    naive_docs_per_s: float
    ours_docs_per_s: float
    ours_max_length: int
    speedup: float


@dataclass(frozen=True)
class SortGain:
    """Length-sorted batches against unsorted ones."""

    label: str
    sorted_docs_per_s: float
    unsorted_docs_per_s: float
    sorted_padded_tokens: int
    unsorted_padded_tokens: int
    ratio: float


@dataclass(frozen=True)
class ComputeEfficiency:
    """The FLOP rate an encoder reached, against numpy's matmul rate."""

    label: str
    gflop: float
    seconds: float
    gflops: float
    matmul_gflops: float
    fraction_of_matmul: float


@dataclass(frozen=True)
class Peer:
    """The FastEmbed peer against ours (``installed`` False: only ``note`` is set)."""

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
    """Peak RSS of a fresh process that loads both models and encodes with them, in MB."""

    docs: int
    before_load_mb: float
    after_load_mb: float
    peak_rss_mb: float
    vm_hwm_mb: float | None


@dataclass(frozen=True)
class Environment:
    """The machine, library versions and providers the run saw."""

    cpus: int
    python: str
    onnxruntime: str
    numpy: str
    providers: list[str]
    load_avg_start: float
    load_avg_end: float


@dataclass(frozen=True)
class Report:
    """Everything one run measured."""

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

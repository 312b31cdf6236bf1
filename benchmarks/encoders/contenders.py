"""The contenders: Tandem's encoders, a naive onnxruntime baseline, and FastEmbed as a peer
running our own ONNX file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import ensure_onnx, load_dense, load_sparse, onnx_dir, text_batcher
from tandem.encoders.pooling import l2_normalize, mean_pool, splade_max
from tandem.encoders.registry import KNOWN_MODELS, InputKind, ModelKind, ModelSpec
from tandem.encoders.session import available_providers
from tandem.encoders.sources import checkpoint_dir
from tandem.encoders.sparse import Pruning, to_sparse, vocabulary_of
from tandem.encoders.text import Batching

from .harness import best_of, measure_latency
from .records import (
    BATCH_SIZE,
    NAIVE_LENGTH,
    Encoder,
    Latency,
    NaiveComparison,
    Peer,
    Throughput,
    Variant,
)

FASTEMBED_NAME = "tandem/minilm"
FASTEMBED_FILES = ("config.json", "tokenizer.json", "special_tokens_map.json", "vocab.txt")


# --------------------------------------------------------------------------- our encoders


def load_encoder(variant: Variant) -> Encoder:
    """Tandem's encoder for ``variant``, in batches of :data:`BATCH_SIZE` rows."""
    spec = variant.spec
    encoder: Encoder = (
        load_dense(spec, variant.int8)
        if spec.kind is ModelKind.DENSE
        else load_sparse(spec, variant.int8)
    )
    encoder.batching = Batching(rows=BATCH_SIZE)
    return encoder


def encode_query(encoder: Encoder, query: str) -> object:
    """One query through ``encoder`` (as a query, where the model tells the two apart)."""
    if isinstance(encoder, DenseEncoder):
        return encoder.encode([query], kind=InputKind.QUERY)
    return encoder.encode([query])


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
        """One text, one ONNX run, then the model's pooling."""
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
        """Each text on its own."""
        return [self.encode_one(text) for text in texts]


def measure_naive(
    variant: Variant, encoder: Encoder, docs: Sequence[str], repeats: int
) -> NaiveComparison:
    """The naive baseline and ``encoder`` over the same ``docs``, best of ``repeats`` each."""
    naive = NaiveEncoder(variant.spec)
    naive.encode(docs[:1])  # warm-up
    naive_seconds = best_of(lambda: naive.encode(docs), repeats)
    ours_seconds = best_of(lambda: encoder.encode(docs), repeats)
    return NaiveComparison(
        model=f"{variant.model} {variant.precision}",
        docs=len(docs),
        naive_docs_per_s=len(docs) / naive_seconds,
        ours_docs_per_s=len(docs) / ours_seconds,
        ours_max_length=variant.max_length,
        speedup=naive_seconds / ours_seconds,
    )


# --------------------------------------------------------------------------- FastEmbed peer


def _stage_fastembed_model(spec: ModelSpec, folder: Path) -> Path:
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
    """FastEmbed on our fp32 MiniLM against our numbers (a note when it is not installed)."""
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
        folder = _stage_fastembed_model(spec, Path(tmp))
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

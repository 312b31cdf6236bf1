"""Build ready encoders from a model spec: pull, export and quantise on first use.

Pulled checkpoints live under ``<cache>/models/<name>/checkpoint/`` (local folders are used in
place). Exports live in one folder per checkpoint content and export recipe (see
:mod:`.export_store`), so a changed or different checkpoint is never served a stale export.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .dense import DenseEncoder
from .export_store import (
    BODY_FILE,
    BODY_INT8_FILE,
    FP32_FILE,
    INT8_FILE,
    locate,
    shipped_onnx,
)
from .registry import LocalSource, ModelKind, ModelSpec
from .session import OnnxModel, SessionOptions
from .sources import checkpoint_dir, pull
from .sparse import SpladeEncoder, vocabulary_of
from .splade_head import SpladeHead
from .text import Batching, TextBatcher

if TYPE_CHECKING:
    from .bert_graph import Head

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def onnx_dir(spec: ModelSpec) -> Path:
    """The export folder for ``spec``'s pulled checkpoint as it is now (hashes the checkpoint)."""
    return locate(spec, checkpoint_dir(spec)).path


def ensure_onnx(
    spec: ModelSpec, int8: bool = False, progress: Progress = _quiet, body: bool = False
) -> Path:
    """The ONNX file for ``spec``, exporting (and quantising) it the first time.

    ``body`` asks for a SPLADE model's body (see :class:`SpladeHead`) instead
    of the full-logits model. The export folder is keyed by the checkpoint's content, so an
    edited checkpoint is exported again and an unchanged one reuses its files.
    """
    checkpoint = pull(spec)
    folder = locate(spec, checkpoint)
    fp32 = None if body or not isinstance(spec.source, LocalSource) else shipped_onnx(checkpoint)
    if fp32 is None:
        fp32 = folder.path / (BODY_FILE if body else FP32_FILE)
        if not fp32.is_file():
            progress(f"exporting {spec.name} to ONNX")
            _require_export_extra(spec)
            _export(spec, checkpoint, fp32, body)
            folder.remember()
    if not int8:
        return fp32
    quantized = folder.path / (BODY_INT8_FILE if body else INT8_FILE)
    if not quantized.is_file():
        progress(f"quantising {spec.name} to int8 (dynamic, per channel)")
        _require_export_extra(spec)
        from .quantize import quantize_int8

        quantize_int8(fp32, quantized)
        folder.remember()
    return quantized


def _require_export_extra(spec: ModelSpec) -> None:
    # sympy: onnxruntime's transformer optimizer needs it for symbolic shape inference.
    for module in ("onnx", "safetensors", "sympy"):
        if importlib.util.find_spec(module) is None:
            raise ImportError(
                f"exporting {spec.name} to ONNX needs the 'export' extra ({module} is missing): "
                "pip install 'tandem-search[export]'"
            )


def _export(spec: ModelSpec, checkpoint: Path, target: Path, body: bool) -> None:
    from .export_optimum import export_with_optimum, is_torch_free

    sparse = spec.kind is ModelKind.SPARSE
    if not is_torch_free(checkpoint):
        if body:
            raise ValueError(
                f"{spec.name}: only BERT-family SPLADE models split into body and head"
            )
        export_with_optimum(checkpoint, target, "fill-mask" if sparse else "feature-extraction")
        return
    from .export import export_bert

    head: Head = "base"
    if sparse:
        head = "mlm_transform" if body else "mlm"
    export_bert(checkpoint, target.parent, head, filename=target.name)


def text_batcher(spec: ModelSpec) -> TextBatcher:
    """The tokenizer layer for ``spec``, from its pulled checkpoint."""
    return TextBatcher(checkpoint_dir(spec) / "tokenizer.json", spec.max_length)


def load_dense(
    spec: ModelSpec,
    int8: bool = False,
    options: SessionOptions = SessionOptions(),
    progress: Progress = _quiet,
    batching: Batching = Batching(),
) -> DenseEncoder:
    if spec.kind is not ModelKind.DENSE:
        raise ValueError(f"{spec.name} is a {spec.kind.value} model, not a dense one")
    model = OnnxModel(ensure_onnx(spec, int8, progress), options)
    return DenseEncoder(spec, model, text_batcher(spec), batching)


def load_sparse(
    spec: ModelSpec,
    int8: bool = False,
    options: SessionOptions = SessionOptions(),
    progress: Progress = _quiet,
    batching: Batching = Batching(),
) -> SpladeEncoder:
    if spec.kind is not ModelKind.SPARSE:
        raise ValueError(f"{spec.name} is a {spec.kind.value} model, not a sparse one")
    checkpoint = pull(spec)
    batcher = text_batcher(spec)
    from .export_optimum import is_torch_free

    shipped = isinstance(spec.source, LocalSource) and shipped_onnx(checkpoint) is not None
    if shipped or not is_torch_free(checkpoint):
        # A folder that ships its own ONNX file, or a non-BERT model: run full logits.
        model = OnnxModel(ensure_onnx(spec, int8, progress), options)
        return SpladeEncoder(spec, model, batcher, vocabulary_of(batcher), batching=batching)
    from .bert_graph import load_weights, mlm_decoder

    quiet = dataclasses.replace(options, spinning=False)  # body and head alternate
    body = OnnxModel(ensure_onnx(spec, int8, progress, body=True), quiet)
    decoder, bias = mlm_decoder(load_weights(checkpoint))
    head = SpladeHead(decoder, bias, quiet)
    return SpladeEncoder(spec, body, batcher, vocabulary_of(batcher), head, batching)

"""Export a BERT safetensors checkpoint to a fused ONNX model, torch-free.

``export_bert`` writes the graph from :mod:`tandem.encoders.bert_graph`, then runs onnxruntime's
transformer optimizer over it so inference uses the fused contrib ops. The optimizer is run with
``opt_level=0`` (Python fusions only): its onnxruntime pre-pass imports torch, and the session
that loads the model applies those graph optimisations anyway.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import onnx

from .atomic import staging_path
from .bert_graph import BertConfig, Head, build_bert_graph
from .recipe import FUSIONS

MODEL_FILE = "model.onnx"
_UNFUSED_ATTENTION = ("Softmax",)


@dataclass(frozen=True)
class ExportReport:
    """What an export produced: the file, its size, the time taken and the final op mix."""

    path: Path
    head: Head
    optimized: bool
    size_bytes: int
    seconds: float
    op_counts: Mapping[str, int] = field(hash=False)
    """Number of nodes per op type in the written graph, e.g. ``{"Attention": 6, ...}``."""

    @property
    def fully_fused(self) -> bool:
        """True when every attention block became one fused op (no raw Softmax is left)."""
        fused = self.op_counts.get("Attention", 0) + self.op_counts.get("MultiHeadAttention", 0)
        return fused > 0 and not any(self.op_counts.get(op, 0) for op in _UNFUSED_ATTENTION)


def export_bert(
    checkpoint: Path,
    output_dir: Path,
    head: Head,
    optimize: bool = True,
    filename: str = MODEL_FILE,
) -> ExportReport:
    """Write ``output_dir/filename`` (``model.onnx``) for the checkpoint folder and report on it.

    The weights stay inside the ``.onnx`` file (one self-contained artefact), which limits this to
    models under protobuf's 2 GB cap, far above the BERT encoders this project ships. The file
    appears only once complete: a failed optimisation never leaves an unfused model in the cache,
    and two processes exporting the same model each write their own staging file.
    """
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / filename
    staging = staging_path(path)
    try:
        model = build_bert_graph(checkpoint, head)
        onnx.save_model(model, staging)
        if optimize:
            config = BertConfig.from_file(checkpoint / "config.json")
            model = _optimize(staging, config)
        staging.replace(path)
    finally:
        staging.unlink(missing_ok=True)
    counts = Counter(node.op_type for node in model.graph.node)
    return ExportReport(
        path=path,
        head=head,
        optimized=optimize,
        size_bytes=path.stat().st_size,
        seconds=time.perf_counter() - started,
        op_counts=MappingProxyType(dict(sorted(counts.items()))),
    )


def _optimize(path: Path, config: BertConfig) -> onnx.ModelProto:
    """Fuse the raw graph at ``path`` in place and return the fused model."""
    from onnxruntime.transformers.optimizer import optimize_model

    # The optimizer warns that our producer name is not "pytorch"; the graph layout is what counts.
    optimizer_log = logging.getLogger("onnxruntime.transformers.optimizer")
    level = optimizer_log.level
    optimizer_log.setLevel(logging.ERROR)
    try:
        optimized = optimize_model(
            str(path),
            model_type=FUSIONS.model_type,
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=FUSIONS.opt_level,
        )
    finally:
        optimizer_log.setLevel(level)
    optimized.save_model_to_file(str(path), use_external_data_format=False)
    model: onnx.ModelProto = optimized.model
    return model

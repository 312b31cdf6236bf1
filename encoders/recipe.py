"""The export recipe: everything besides the checkpoint that changes an exported ONNX file.

The exporter (``export.py``), the quantiser (``quantize.py``) and the cache key
(``export_store.py``) read the same constants, so the key cannot drift from what is written.
This module imports nothing heavy: the key is computed even where the ``export`` extra is absent.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from dataclasses import dataclass
from typing import Any, Literal

from .registry import ModelKind

# Bump when bert_graph.py, export.py, quantize.py or export_optimum.py change what they write:
# every cached export is then made again on first use.
EXPORT_REVISION = 1
BERT_OPSET = 17  # bert_graph.OPSET (a unit test keeps the two equal)
OPTIMUM_OPSET = 17  # the opset export_optimum asks optimum for

Exporter = Literal["shipped", "bert_graph", "optimum"]
"""``shipped``: the folder carries its own ``model.onnx`` (only int8 files are made from it);
``bert_graph``: Tandem's torch-free BERT graph; ``optimum``: Hugging Face optimum (torch)."""


@dataclass(frozen=True)
class Fusions:
    """onnxruntime transformer-optimizer settings for the torch-free BERT export."""

    model_type: str = "bert"
    # Python fusions only: the onnxruntime pre-pass imports torch.
    opt_level: int = 0


@dataclass(frozen=True)
class Int8:
    """Dynamic int8 quantisation settings (names of onnxruntime's enums)."""

    per_channel: bool = True
    # 7-bit weights: safe on CPUs without VNNI.
    reduce_range: bool = True
    weight_type: str = "QInt8"
    # The fused contrib ops carry no type information the quantiser can infer.
    default_tensor_type: str = "FLOAT"


FUSIONS = Fusions()
INT8 = Int8()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def onnxruntime_version() -> str:
    """The running onnxruntime (whichever wheel provides it: onnxruntime, onnxruntime-gpu)."""
    import onnxruntime

    return str(onnxruntime.__version__)


def recipe(kind: ModelKind, exporter: Exporter) -> dict[str, Any]:
    """The recipe for one export folder, as JSON-ready data (it is hashed into the key).

    The kind matters because a sparse model's ``model.onnx`` ends in the MLM head and a dense
    one's does not; onnxruntime's version matters because its optimizer and quantiser write
    the fused and int8 graphs.
    """
    steps: dict[str, Any] = {"exporter": exporter}
    if exporter == "bert_graph":
        steps |= {"opset": BERT_OPSET, "fusions": dataclasses.asdict(FUSIONS)}
    elif exporter == "optimum":
        versions = {"optimum": _version("optimum"), "torch": _version("torch")}
        steps |= {"opset": OPTIMUM_OPSET, **versions}
    return {
        "revision": EXPORT_REVISION,
        "kind": kind.value,
        **steps,
        "int8": dataclasses.asdict(INT8),
        "onnxruntime": onnxruntime_version(),
    }

"""Dynamic int8 quantisation of exported encoder models."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import onnx

from .atomic import staging_path
from .recipe import INT8


def quantize_int8(src: Path, dst: Path) -> None:
    """Write an int8 dynamically quantised copy of the ONNX model ``src`` to ``dst``.

    The settings are :data:`.recipe.INT8`: weights become per-channel int8 with a reduced 7-bit
    range (safer on CPUs without VNNI); activations are quantised at run time, so no calibration
    data is needed. The default tensor type is set to float because the fused contrib ops the
    optimizer emits carry no type information the quantiser can infer.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst.parent.mkdir(parents=True, exist_ok=True)
    # The quantiser logs a generic "consider pre-processing" warning on the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    staging = staging_path(dst)  # one per writer: concurrent quantisations never share a file
    try:
        _quantize(src, staging, quantize_dynamic, QuantType)
        staging.replace(dst)  # only a complete file ever lands in the cache
    finally:
        root.setLevel(level)
        staging.unlink(missing_ok=True)


def _quantize(src: Path, dst: Path, quantize_dynamic: Any, quant_type: Any) -> None:
    quantize_dynamic(
        model_input=src,
        model_output=dst,
        per_channel=INT8.per_channel,
        reduce_range=INT8.reduce_range,
        weight_type=getattr(quant_type, INT8.weight_type),
        extra_options={"DefaultTensorType": getattr(onnx.TensorProto, INT8.default_tensor_type)},
    )

"""Dynamic int8 quantisation of exported encoder models."""

from __future__ import annotations

from pathlib import Path

import onnx


def quantize_int8(src: Path, dst: Path) -> None:
    """Write an int8 dynamically quantised copy of the ONNX model ``src`` to ``dst``.

    Weights become per-channel int8 with a reduced 7-bit range (safer on CPUs without VNNI);
    activations are quantised at run time, so no calibration data is needed. The default tensor
    type is set to float because the fused contrib ops the optimizer emits carry no type
    information the quantiser can infer.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(
        model_input=src,
        model_output=dst,
        per_channel=True,
        reduce_range=True,
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )

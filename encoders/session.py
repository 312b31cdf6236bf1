"""One onnxruntime session wrapper for every encoder.

It picks execution providers (CUDA when present, else CPU), sets threads and
full graph optimisation, and builds each feed from the inputs the graph
declares, so models without ``token_type_ids`` simply never receive it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort


@dataclass(frozen=True)
class SessionOptions:
    """How to run a model. ``threads=0`` means one intra-op thread per core."""

    threads: int = 0
    providers: tuple[str, ...] = ()
    optimize: bool = True
    # Idle intra-op threads spin for the next run: good for one model's latency,
    # bad when two sessions (SPLADE's body and head) alternate on few cores.
    spinning: bool = True

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")


def available_providers(requested: tuple[str, ...] = ()) -> list[str]:
    """The requested providers that this onnxruntime build has, CUDA first by default."""
    have = ort.get_available_providers()
    if requested:
        missing = [p for p in requested if p not in have]
        if missing:
            raise ValueError(
                f"execution providers {missing} are not available; this build has {have}"
            )
        return list(requested)
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]


def ort_session_options(options: SessionOptions) -> ort.SessionOptions:
    """onnxruntime's options for ours: threads, optimisation level, spinning."""
    session_options = ort.SessionOptions()
    session_options.intra_op_num_threads = options.threads or (os.cpu_count() or 1)
    session_options.inter_op_num_threads = 1
    session_options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if options.optimize
        else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    )
    if not options.spinning:
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return session_options


class OnnxModel:
    """A ready onnxruntime session plus the names of its inputs and outputs."""

    def __init__(self, path: Path, options: SessionOptions = SessionOptions()) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"no ONNX model at {path}: export it with 'tandem models export'"
            )
        session_options = ort_session_options(options)
        self.path = path
        self.session = ort.InferenceSession(
            str(path),
            sess_options=session_options,
            providers=available_providers(options.providers),
        )
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    def run(
        self, arrays: dict[str, npt.NDArray[np.int64]], output: str | None = None
    ) -> npt.NDArray[np.float32]:
        """Run with the arrays the graph declares (others are ignored); return one output."""
        missing = [name for name in self.input_names if name not in arrays]
        if missing:
            raise ValueError(f"{self.path.name} needs inputs {missing}")
        feed = {name: arrays[name] for name in self.input_names}
        name = output or self.output_names[0]
        result = self.session.run([name], feed)[0]
        return np.asarray(result, dtype=np.float32)

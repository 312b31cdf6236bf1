"""Export non-BERT architectures with Hugging Face ``optimum`` (needs torch).

The torch-free path (:mod:`tandem.encoders.bert_graph`) covers BERT-family
checkpoints; anything else goes through optimum's exporter when torch and
optimum are installed, and fails with the extra to install when they are not.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

TORCH_FREE_MODEL_TYPES = frozenset({"bert"})
TORCH_FREE_ARCHITECTURES = frozenset({"BertModel", "BertForMaskedLM"})


def is_torch_free(checkpoint: Path) -> bool:
    """Whether the checkpoint is a BERT the torch-free exporter builds exactly.

    Sentence-transformers checkpoints sometimes list no architecture; their
    model type decides then.
    """
    raw: dict[str, Any] = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    architectures = set(raw.get("architectures") or [])
    if raw.get("model_type") not in TORCH_FREE_MODEL_TYPES:
        return False
    return not architectures or bool(architectures & TORCH_FREE_ARCHITECTURES)


def export_with_optimum(checkpoint: Path, output: Path, task: str) -> Path:
    """Export with ``optimum.exporters.onnx`` (``task``: feature-extraction or fill-mask)."""
    try:
        from optimum.exporters.onnx import main_export
    except ImportError as err:
        raise ImportError(
            f"{checkpoint} is not a BERT checkpoint, so exporting it needs torch and optimum "
            f"({err.name} is missing): pip install 'tandem-search[optimum]'"
        ) from err
    with tempfile.TemporaryDirectory() as tmp:
        main_export(model_name_or_path=str(checkpoint), output=tmp, task=task, opset=17)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "model.onnx"), output)
    return output

"""Where exported ONNX files live: one folder per checkpoint content and export recipe.

``<models>/exports/<name>-<key>/`` holds whichever of ``model.onnx``, ``model.int8.onnx``,
``splade_body.onnx`` and ``splade_body.int8.onnx`` were needed, and ``export.json``, which
records what they were made from. ``<key>`` hashes the checkpoint's content digest
(:mod:`.digest`) with the export recipe (:mod:`.recipe`): a changed or different checkpoint
gets a folder of its own, an unchanged one finds its earlier export. ``<name>`` is only there
for people reading the folder. Per-file digests are memoised under ``<models>/digests/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atomic
from .digest import folder_digest
from .export_optimum import is_torch_free
from .recipe import Exporter, recipe
from .registry import LocalSource, ModelKind, ModelSpec
from .sources import describe_source, models_dir

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
# SPLADE runs as a body (up to the MLM transform) plus a chunked numpy head.
BODY_FILE = "splade_body.onnx"
BODY_INT8_FILE = "splade_body.int8.onnx"
MANIFEST = "export.json"
EXPORTS = "exports"
DIGESTS = "digests"
KEY_HEX_DIGITS = 16


def exports_dir() -> Path:
    return models_dir() / EXPORTS


def digests_dir() -> Path:
    return models_dir() / DIGESTS


def shipped_onnx(folder: Path) -> Path | None:
    """An ONNX file that a local checkpoint folder already carries."""
    for candidate in (folder / FP32_FILE, folder / "onnx" / FP32_FILE):
        if candidate.is_file():
            return candidate
    return None


def checkpoint_digest(folder: Path) -> str:
    """The content digest of a checkpoint folder, memoised per folder under the cache."""
    folder = folder.resolve()
    memo = digests_dir() / f"{hashlib.sha256(str(folder).encode()).hexdigest()[:32]}.json"
    return folder_digest(folder, memo)


def exporter_for(checkpoint: Path, local: bool) -> Exporter:
    """How ``model.onnx`` comes about for this checkpoint (see :data:`.recipe.Exporter`)."""
    if local and shipped_onnx(checkpoint) is not None:
        return "shipped"
    return "bert_graph" if is_torch_free(checkpoint) else "optimum"


@dataclass(frozen=True)
class ExportRecord:
    """What an export folder was made from: the contents of its ``export.json``."""

    name: str
    kind: ModelKind
    source: str
    local: bool
    checkpoint: Path
    digest: str
    recipe: Mapping[str, Any]

    @property
    def key(self) -> str:
        blob = json.dumps({"checkpoint": self.digest, "recipe": self.recipe}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:KEY_HEX_DIGITS]

    @property
    def folder_name(self) -> str:
        return f"{self.name.replace('/', '--')}-{self.key}"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "source": self.source,
            "local": self.local,
            "checkpoint": str(self.checkpoint),
            "digest": self.digest,
            "recipe": dict(self.recipe),
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExportRecord:
        return cls(
            name=str(data["name"]),
            kind=ModelKind(data["kind"]),
            source=str(data["source"]),
            local=bool(data["local"]),
            checkpoint=Path(data["checkpoint"]),
            digest=str(data["digest"]),
            recipe=dict(data["recipe"]),
        )


def _record(name: str, kind: ModelKind, source: str, local: bool, checkpoint: Path) -> ExportRecord:
    checkpoint = checkpoint.resolve()
    return ExportRecord(
        name=name,
        kind=kind,
        source=source,
        local=local,
        checkpoint=checkpoint,
        digest=checkpoint_digest(checkpoint),
        recipe=recipe(kind, exporter_for(checkpoint, local)),
    )


@dataclass(frozen=True)
class ExportFolder:
    """The export folder for a checkpoint as it is now; files appear in it on first use."""

    path: Path
    record: ExportRecord

    def remember(self) -> None:
        """Write ``export.json`` once a file has been exported into the folder."""
        manifest = self.path / MANIFEST
        if not manifest.is_file():
            atomic.write_text(manifest, json.dumps(self.record.as_json(), indent=2) + "\n")


def locate(spec: ModelSpec, checkpoint: Path) -> ExportFolder:
    """Where ``spec``'s exports live, given its pulled ``checkpoint`` folder (hashes it)."""
    local = isinstance(spec.source, LocalSource)
    record = _record(spec.name, spec.kind, describe_source(spec), local, checkpoint)
    return ExportFolder(exports_dir() / record.folder_name, record)


def read_record(folder: Path) -> ExportRecord | None:
    """The record in ``folder/export.json``; None when it is missing or unreadable."""
    try:
        return ExportRecord.from_json(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def is_current(folder: Path, record: ExportRecord) -> bool:
    """Whether ``folder`` is what the record's checkpoint, as it is now, would be exported to."""
    if not (record.checkpoint / "config.json").is_file():
        return False
    with contextlib.suppress(OSError, ValueError):
        now = _record(record.name, record.kind, record.source, record.local, record.checkpoint)
        return now.folder_name == folder.name
    return False

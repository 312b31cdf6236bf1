"""What the model cache holds, for ``tandem models list``.

One entry per known model, per pulled hub checkpoint, and per export folder not already shown
with one of those (local folders' exports, and stale ones a changed checkpoint left behind).
Folders this version of Tandem did not make are listed too, so they can be found and deleted;
nothing in the cache makes the listing fail.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from .export_store import (
    DIGESTS,
    EXPORTS,
    FP32_FILE,
    INT8_FILE,
    is_current,
    locate,
    read_record,
)
from .registry import KNOWN_MODELS, HubSource, ModelSpec
from .sources import checkpoint_dir, describe, describe_source, is_pulled, models_dir

UNKNOWN = "-"
FOREIGN = "not made by this version of Tandem: safe to delete"


@dataclass(frozen=True)
class CacheEntry:
    """One row of the listing. ``current``: the export matches its checkpoint as it is now."""

    name: str
    kind: str
    source: str
    pulled: bool
    current: bool
    onnx_bytes: int | None
    int8_bytes: int | None
    path: str
    export: str | None

    @property
    def state(self) -> str:
        """``current``, ``stale``, ``none`` (nothing exported yet) or ``foreign``."""
        if self.source == FOREIGN:
            return "foreign"
        if self.export is None:
            return "none"
        return "current" if self.current else "stale"


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


def _entry(
    name: str, kind: str, source: str, pulled: bool, path: Path, export: Path | None, current: bool
) -> CacheEntry:
    onnx = _size(export / FP32_FILE) if export is not None else None
    int8 = _size(export / INT8_FILE) if export is not None else None
    where = str(export) if export is not None else None
    return CacheEntry(name, kind, source, pulled, current, onnx, int8, str(path), where)


def _current_export(spec: ModelSpec) -> Path | None:
    if not is_pulled(spec):
        return None
    with contextlib.suppress(OSError, ValueError):
        folder = locate(spec, checkpoint_dir(spec)).path
        return folder if folder.is_dir() else None
    return None


def _checkpoint_entries(shown: set[Path]) -> list[CacheEntry]:
    entries = []
    for name, spec in KNOWN_MODELS.items():
        export = _current_export(spec)
        if export is not None:
            shown.add(export)
        entries.append(
            _entry(
                name,
                spec.kind.value,
                describe_source(spec),
                is_pulled(spec),
                checkpoint_dir(spec),
                export,
                current=export is not None,
            )
        )
    return entries


def _foreign(folder: Path) -> CacheEntry:
    name = folder.relative_to(models_dir()).as_posix()
    return _entry(name, UNKNOWN, FOREIGN, False, folder, None, False)


def _other_folders(exported: set[Path]) -> list[CacheEntry]:
    """Pulled hub checkpoints with no export yet, and folders Tandem did not make.

    A model folder holds only ``checkpoint/`` (and hidden pulls in progress); anything else
    in it, such as the ``onnx/`` exports of versions before content keys, is foreign.
    """
    entries = []
    known = {spec.cache_name for spec in KNOWN_MODELS.values()}
    for folder in sorted(p for p in models_dir().iterdir() if p.is_dir()):
        if folder.name in (EXPORTS, DIGESTS) or folder.name.startswith("."):
            continue
        checkpoint = folder / "checkpoint"
        if folder.name not in known and not (checkpoint / "config.json").is_file():
            entries.append(_foreign(folder))
            continue
        extra = [p for p in sorted(folder.iterdir()) if p != checkpoint and p.name[0] != "."]
        entries.extend(_foreign(p) for p in extra)
        if folder.name not in known and checkpoint.resolve() not in exported:
            repo = folder.name.replace("--", "/")
            source = describe(HubSource(repo))
            entries.append(_entry(repo, UNKNOWN, source, True, checkpoint, None, False))
    return entries


def _export_entries(shown: set[Path]) -> tuple[list[CacheEntry], set[Path]]:
    entries = []
    exported: set[Path] = set()
    root = models_dir() / EXPORTS
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        record = read_record(folder)
        if record is None:
            entries.append(_foreign(folder))
            continue
        exported.add(record.checkpoint)
        if folder in shown:
            continue
        pulled = (record.checkpoint / "config.json").is_file()
        current = is_current(folder, record)
        kind = record.kind.value
        entries.append(
            _entry(record.name, kind, record.source, pulled, record.checkpoint, folder, current)
        )
    entries.sort(key=lambda e: (e.name, e.path, not e.current))
    return entries, exported


def cache_inventory() -> list[CacheEntry]:
    """Every model the cache knows about: known ones first, then the rest by name."""
    shown: set[Path] = set()
    entries = _checkpoint_entries(shown)
    if not models_dir().is_dir():
        return entries
    exports, exported = _export_entries(shown)
    return entries + _other_folders(exported) + exports

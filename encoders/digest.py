"""Content digests of checkpoint folders, so exports are keyed by what they were made from.

A folder's digest is a SHA-256 over its files' relative paths and SHA-256s, sorted by path: it
ignores where the folder is and the order files are listed in, and changes when any byte, name,
or the set of files changes. Files are read in a stream, never whole.

Reading a multi-gigabyte checkpoint at every start would be slow, so each file's SHA-256 is
remembered in a small JSON memo with the file's stamp: size, mtime, ctime and inode. An edit
changes ctime even when a tool restores size and mtime, and a replaced file has a new inode, so
a matching stamp means unchanged content. Files changed in the last ``RACY_WINDOW_NS`` are not
memoised: a write within the same timestamp tick as our stat would leave the stamp unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import atomic

MEMO_VERSION = 1
# Coarse file-system timestamps tick every few milliseconds; two seconds covers FAT's too.
RACY_WINDOW_NS = 2_000_000_000
# Never read by Tandem: documentation and other frameworks' weights.
SKIPPED_SUFFIXES = frozenset({".md", ".h5", ".msgpack", ".ot"})
SKIPPED_DIRS = frozenset({"openvino", "coreml", "__pycache__"})

Stamp = tuple[int, int, int, int, int]


def checkpoint_files(folder: Path) -> list[str]:
    """The files that make up a checkpoint, as sorted relative POSIX paths.

    Everything counts except hidden entries (``.git``, ``.gitattributes``), Markdown, and the
    folders and files of other frameworks (TensorFlow, Flax, Rust, OpenVINO, Core ML).
    Symbolic links are followed, as in Hugging Face's hub cache.
    """
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        here = os.stat(root)
        if (here.st_dev, here.st_ino) in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add((here.st_dev, here.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        for name in files:
            path = Path(root) / name
            if name.startswith(".") or path.suffix in SKIPPED_SUFFIXES or not path.is_file():
                continue
            found.append(path.relative_to(folder).as_posix())
    return sorted(found)


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def combine(file_digests: Mapping[str, str]) -> str:
    """The folder digest from ``{relative path: file SHA-256}``, whatever the mapping's order."""
    total = hashlib.sha256()
    for rel in sorted(file_digests):
        total.update(f"{rel}\0{file_digests[rel]}\n".encode())
    return total.hexdigest()


def folder_digest(folder: Path, memo: Path | None = None) -> str:
    """The content digest of the checkpoint in ``folder``, reusing and updating ``memo``."""
    files = checkpoint_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no checkpoint files (config.json, weights, tokenizer)")
    known = _read_memo(memo, folder) if memo is not None else {}
    now = time.time_ns()
    digests: dict[str, str] = {}
    remembered: dict[str, tuple[Stamp, str]] = {}
    for rel in files:
        path = folder / rel
        stat = path.stat()  # before reading: a write during hashing changes the stamp
        stamp: Stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)
        cached = known.get(rel)
        sha = cached[1] if cached is not None and cached[0] == stamp else file_sha256(path)
        digests[rel] = sha
        if now - max(stat.st_mtime_ns, stat.st_ctime_ns) >= RACY_WINDOW_NS:
            remembered[rel] = (stamp, sha)
    if memo is not None and remembered != known:
        _write_memo(memo, folder, remembered)
    return combine(digests)


def _read_memo(memo: Path, folder: Path) -> dict[str, tuple[Stamp, str]]:
    try:
        data: Any = json.loads(memo.read_text(encoding="utf-8"))
        if data.get("version") != MEMO_VERSION or data.get("folder") != str(folder):
            return {}
        return {
            rel: (tuple(entry["stamp"]), str(entry["sha256"]))
            for rel, entry in data["files"].items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # missing, damaged or from another version: hash again


def _write_memo(memo: Path, folder: Path, entries: Mapping[str, tuple[Stamp, str]]) -> None:
    data = {
        "version": MEMO_VERSION,
        "folder": str(folder),
        "files": {rel: {"stamp": list(s), "sha256": sha} for rel, (s, sha) in entries.items()},
    }
    # The memo is only a shortcut: a cache on a read-only disk still gets digests.
    # Concurrent writers: the last complete memo wins.
    with contextlib.suppress(OSError):
        atomic.write_text(memo, json.dumps(data))

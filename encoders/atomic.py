"""Files that appear in the cache only once complete, even with several writers at once."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def staging_path(target: Path) -> Path:
    """A hidden sibling of ``target`` that no other writer uses; rename it onto ``target``.

    Unlike :func:`tempfile.mkstemp` it creates nothing, so the final file gets the usual
    permissions (the umask's) and a shared cache stays readable by everyone it was before.
    """
    return target.parent / f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial"


def write_text(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a staging file and an atomic rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(target)
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)

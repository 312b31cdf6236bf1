"""Where an interrupted enrich run resumes from: a small JSON file, written atomically.

It holds the plan's identity (engine, source, target, models, text fields), the
watermarks taken at the start, the phase and the scan position of the last page
whose writes all settled. A run that completes deletes it; follow mode keeps
updating it, so ``--resume --follow`` carries on from the last pass.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tandem.encoders.cache import cache_dir
from tandem.plugin.engines.base import EngineAdapter

from .dialect import lift_write_block

VERSION = 1


def default_path(engine_url: str, index: str) -> Path:
    """``<cache>/enrich/<index>-<hash of engine and index>.json``."""
    key = hashlib.sha256(f"{engine_url}\0{index}".encode()).hexdigest()[:12]
    return cache_dir() / "enrich" / f"{index}-{key}.json"


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise ValueError(
                f"the checkpoint {self.path} cannot be read ({err}); delete it to start over"
            ) from err
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"the checkpoint {self.path} is not one this version wrote")
        return data

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"version": VERSION, **state}))
        os.replace(temporary, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def resumed_target(saved: dict[str, Any] | None, resume: bool, target: str | None) -> str | None:
    """The copy an interrupted reindex was writing, when resuming one; else ``target``."""
    identity = (saved or {}).get("identity", {})
    if resume and identity.get("strategy") == "reindex":
        return str(identity["target"])
    return target


def lift_left_block(
    adapter: EngineAdapter, saved: dict[str, Any] | None, resume: bool
) -> str | None:
    """When resuming a reindex killed during its switch (the source write-blocked for a
    moment), lift that block; the index lifted, or ``None``."""
    blocked = (saved or {}).get("state", {}).get("write_block")
    if not resume or not blocked:
        return None
    lift_write_block(adapter, str(blocked))
    return str(blocked)

"""A reachable engine and how Tandem got hold of it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from tandem.plugin.engines.kinds import EngineKind

Origin = Literal["started", "attached", "container"]


@dataclass(frozen=True)
class EngineHandle:
    kind: EngineKind
    version: str
    url: str
    origin: Origin
    pid: int | None = None
    log: str | None = None
    container_id: str | None = None
    instance: str | None = None
    pid_start: int | None = None

    @property
    def name(self) -> str:
        return f"{self.kind.value}-{self.version}"

    @property
    def port(self) -> int | None:
        return urlsplit(self.url).port

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["kind"] = self.kind.value
        path.write_text(json.dumps(data))


def load_handle(path: Path) -> EngineHandle | None:
    """Read a handle saved by :meth:`EngineHandle.save`; ``None`` if unreadable."""
    try:
        data = json.loads(path.read_text())
        data["kind"] = EngineKind(data["kind"])
        return EngineHandle(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None

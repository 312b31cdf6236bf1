"""A reachable engine, how Tandem got hold of it, and who started it.

``started_by`` tells ``tandem engines down`` which engines are its own: it stops
only those that ``tandem engines up`` started, and the rest only with ``--all``.
"""

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
    # Who started it (``tandem engines up``, ``pytest``, ``tandem (pid 4242)``); None if unknown.
    started_by: str | None = None
    # Names of the optional plugin sets it was started with (``ml``).
    extras: tuple[str, ...] = ()
    # A local cluster: its size, and the other nodes started with the first (``pid``),
    # each as (process group, start ticks).
    nodes: int = 1
    peers: tuple[tuple[int, int | None], ...] = ()

    @property
    def name(self) -> str:
        nodes = f"-{self.nodes}-nodes" if self.nodes > 1 else ""
        extras = "".join(f"-with-{e}" for e in self.extras)
        return f"{self.kind.value}-{self.version}{nodes}{extras}"

    @property
    def processes(self) -> tuple[tuple[int, int | None], ...]:
        """Every node process this handle started: (process group, start ticks)."""
        first = ((self.pid, self.pid_start),) if self.pid is not None else ()
        return first + self.peers

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
        data["extras"] = tuple(data.get("extras", ()))
        data["peers"] = tuple((int(p[0]), p[1]) for p in data.get("peers", ()))
        return EngineHandle(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None

"""A ranked hit and where each retriever placed it: plain data, shared by the searcher,
the servicers and the client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Source:
    """Where one retriever placed a document: 1-based ``rank`` and raw ``score``."""

    rank: int
    score: float


@dataclass(frozen=True)
class FusedHit:
    """A fused document; ``sources`` maps each retriever that returned it to its :class:`Source`.

    ``document`` holds the stored fields a search asked for (``document_fields``), empty
    when it asked for none."""

    id: str
    score: float
    sources: Mapping[str, Source]
    document: Mapping[str, Any] = field(default_factory=dict)


def score(value: float) -> float:
    """``value`` as float32, written with the fewest digits that read back the same: engines
    score in float32, whichever side fused (the CLI's and the HTTP face's JSON)."""
    import numpy as np  # here: the client imports this module and must not need numpy

    return float(str(np.float32(value)))

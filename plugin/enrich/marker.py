"""The marker each enriched document carries: what text was encoded, by which models.

A rerun compares the marker with the document's current text and the models in
use: an unchanged document is skipped, an edited one is encoded again, and a
model change re-encodes everything. ``at`` (seconds since the epoch) is when the
vectors were written, which is how follow mode's lag is measured.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MARKER_FIELD = "tandem_enrich"
# The marker's mapping: keywords, so follow mode and checks can query them.
MARKER_MAPPING: dict[str, Any] = {
    "properties": {
        "hash": {"type": "keyword"},
        "models": {"type": "keyword"},
        "at": {"type": "double", "index": False},
        "source_seq_no": {"type": "long"},
    }
}


def text_hash(text: str) -> str:
    """A short, stable digest of the encoded text (SHA-256, 128 bits in hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def model_label(name: str, int8: bool) -> str:
    """A model's name in a marker: ``minilm``, or ``minilm+int8`` for its int8 export.

    The CLI and the sidecar label models alike, so a run of either skips what the other
    encoded with the same models."""
    return f"{name}+int8" if int8 else name


def models_id(dense: str | None, sparse: str | None) -> str:
    """The models a marker names, such as ``dense=minilm;sparse=splade-tiny``."""
    return ";".join(
        f"{kind}={name}" for kind, name in (("dense", dense), ("sparse", sparse)) if name
    )


@dataclass(frozen=True)
class Marker:
    hash: str
    models: str
    at: float = 0.0
    source_seq_no: int | None = None

    @classmethod
    def now(cls, digest: str, models: str, source_seq_no: int | None = None) -> Marker:
        return cls(digest, models, time.time(), source_seq_no)

    @classmethod
    def read(cls, value: object) -> Marker | None:
        """The marker stored in a document, or ``None`` when it has none (or a bad one)."""
        if not isinstance(value, Mapping):
            return None
        digest, models = value.get("hash"), value.get("models")
        if not isinstance(digest, str) or not isinstance(models, str):
            return None
        at = value.get("at")
        seq = value.get("source_seq_no")
        return cls(
            digest,
            models,
            float(at) if isinstance(at, (int, float)) else 0.0,
            seq if isinstance(seq, int) else None,
        )

    def current(self, digest: str, models: str) -> bool:
        """Whether this marker already covers ``digest`` encoded by ``models``."""
        return self.hash == digest and self.models == models

    def as_source(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hash": self.hash, "models": self.models, "at": round(self.at, 3)}
        if self.source_seq_no is not None:
            out["source_seq_no"] = self.source_seq_no
        return out

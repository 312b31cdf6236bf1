"""Real sidecars for the tests: a gRPC server on port 0, real models, real sockets."""

from __future__ import annotations

import dataclasses
import re
import urllib.request
from typing import Any

from tandem.plugin.server.embedded import EmbeddedSidecar
from tandem.plugin.server.settings import Settings

BASE = Settings(host="127.0.0.1", port=0, metrics_port=0, metrics_host="127.0.0.1", grace=5.0)


def start_sidecar(**overrides: Any) -> EmbeddedSidecar:
    return EmbeddedSidecar(dataclasses.replace(BASE, **overrides))


def scrape(sidecar: EmbeddedSidecar) -> str:
    """The sidecar's Prometheus page, over HTTP."""
    url = f"http://127.0.0.1:{sidecar.sidecar.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
    return text


def sample(page: str, name: str, **labels: str) -> float:
    """One sample's value from a metrics page (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? ([0-9.e+-]+)$", re.MULTILINE)
    for match in pattern.finditer(page):
        if all(part in (match.group(1) or "") for part in wanted.split(",") if part):
            return float(match.group(2))
    return 0.0


def spec_json(name: str, **extra: str) -> dict[str, Any]:
    """CreateIndex's JSON for Tandem's default layout (title, text, embedding, sparse), plus
    ``extra`` fields given as ``name=type``."""
    fields = [
        {"name": "title", "type": "text"},
        {"name": "text", "type": "text"},
        {"name": "embedding", "type": "dense"},
        {"name": "sparse", "type": "sparse"},
        *({"name": field, "type": kind} for field, kind in extra.items()),
    ]
    return {"name": name, "fields": fields}

"""Turn ``--engine opensearch|elasticsearch|URL`` into a URL."""

from __future__ import annotations

import os

from .kinds import EngineKind


def engine_url(engine: str) -> str:
    """An engine name means its ``TANDEM_*_URL`` or the local default; anything else is a URL."""
    lowered = engine.lower()
    for kind in EngineKind:
        if lowered == kind.value:
            return os.environ.get(kind.url_env) or kind.default_url
    if "://" not in engine:
        # redact() finds no password without a scheme: show no user:password@ value at all
        shown = repr(engine) if "@" not in engine else "(a value with credentials, not shown)"
        raise ValueError(
            f"--engine {shown}: use opensearch, elasticsearch, or a URL such as "
            "http://localhost:9200"
        )
    return engine

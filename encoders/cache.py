"""Where Tandem keeps its cache (models, datasets, engines): one root for every part."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of Tandem's cache: ``$TANDEM_CACHE_DIR``, else ``$XDG_CACHE_HOME/tandem``."""
    explicit = os.environ.get("TANDEM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tandem"

"""Where Tandem keeps its cache and running engines."""

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


def engines_dir() -> Path:
    """Directory for engine artifacts, installs and running instances.

    ``$TANDEM_ENGINES_DIR`` wins. As root the engines run as an unprivileged
    user who cannot enter ``/root``, so the default moves to ``/var/lib/tandem``.
    """
    explicit = os.environ.get("TANDEM_ENGINES_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if os.geteuid() == 0:
        return Path("/var/lib/tandem/engines")
    return cache_dir() / "engines"

"""Where the launcher keeps engine artifacts, installs and running instances."""

from __future__ import annotations

import os
from pathlib import Path

from tandem.encoders.cache import cache_dir


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

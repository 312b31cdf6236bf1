"""Run the ``tandem`` command as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys


def tandem(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from tandem.plugin.cli import main; raise SystemExit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )

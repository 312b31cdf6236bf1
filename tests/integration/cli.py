"""Run the ``tandem`` command as a user would, in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

ENTRY = "from tandem.plugin.cli import main; raise SystemExit(main())"


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start ``tandem ARGS`` in the background as a user's terminal would, stdout and
    stderr piped: SIGINT at its default (a background CI job inherits it ignored)."""
    return subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def tandem(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            ENTRY,
            *args,
        ],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )

"""``tandem ... | head``: a reader that closes the pipe early ends the command quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENTRY = "from tandem.plugin.cli import main; raise SystemExit(main())"


def test_a_closed_stdout_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written: EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-c", ENTRY, "engines", "status"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TANDEM_ENGINES_DIR": str(tmp_path)},
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
    assert done.returncode == 141  # 128 + SIGPIPE, what a shell reports for `... | head`

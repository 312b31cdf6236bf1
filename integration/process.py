"""Start an engine in its own process group, as an unprivileged user when root.

Both engines refuse to run as root. Each engine runs in a new session, so the
whole tree (Elasticsearch's CLI launcher and its server JVM) can be signalled
at once and nothing is orphaned by ``down``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .errors import EngineError

SERVICE_USER = "tandem"


def ensure_service_user(name: str = SERVICE_USER) -> pwd.struct_passwd:
    """Return the engine user, creating it as a system user if needed (root only)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise EngineError(
            f"could not create the system user {name!r} that engines run as "
            f"(they refuse to run as root): {result.stderr.strip()}"
        )
    return pwd.getpwnam(name)


def chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    for folder, dirs, files in os.walk(path):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def spawn(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    user: pwd.struct_passwd | None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session with its output in ``log_path`` (truncated)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), to tell it from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces, so split after it.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(
    pgid: int, grace: float = 30.0, popen: subprocess.Popen[bytes] | None = None
) -> bool:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds.

    Returns True when the group stopped within the grace period.
    """
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not group_alive(pgid):
            return True
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    for _ in range(50):
        if popen is not None:
            popen.poll()
        if not group_alive(pgid):
            break
        time.sleep(0.1)
    return False


def _plain(line: str) -> str:
    """Elasticsearch logs JSON lines; show their level, message and error only."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    text = f"[{record.get('log.level', '?')}] {record.get('message', '')}"
    if record.get("error.message"):
        text += f": {record['error.message']}"
    return text


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log, JSON records made readable."""
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(_plain(line)[:400] for line in text[-lines:])

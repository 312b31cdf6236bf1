"""``tandem engines`` as a user runs it: real processes, real Maven Central, real engines."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.integration import probe
from tandem.integration.handle import EngineHandle, load_handle
from tandem.integration.launcher import Launcher
from tandem.integration.paths import engines_dir
from tandem.integration.specs import engine_spec
from tandem.plugin.engines.kinds import EngineKind

from .cli import tandem


def _free_port_pair(start: int) -> int:
    """An HTTP port whose transport twin (+100) is free too, away from the matrix's ports."""
    for port in range(start, start + 50):
        if probe.port_is_free(port) and probe.port_is_free(port + 100):
            return port
    raise RuntimeError(f"no free port pair in {start}..{start + 50}")


LIFECYCLE_PORT = _free_port_pair(9400)
FAILING_PORT = _free_port_pair(LIFECYCLE_PORT + 1)
OURS_PORT = _free_port_pair(FAILING_PORT + 1)
THEIRS_PORT = _free_port_pair(OURS_PORT + 1)


def _processes_in_group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    found.append(int(entry.name))
            except ProcessLookupError:
                continue
    return found


@pytest.fixture
def lifecycle_port() -> Iterator[int]:
    yield LIFECYCLE_PORT
    tandem("engines", "down", "elasticsearch", "--port", str(LIFECYCLE_PORT))


def test_up_status_down_leaves_no_jvm(lifecycle_port: int) -> None:
    up = tandem("engines", "up", "elasticsearch", "--port", str(lifecycle_port), "--heap", "256m")
    assert up.returncode == 0, up.stderr
    name, url, origin = up.stdout.strip().split("\t")
    assert (name, url, origin) == (
        "elasticsearch-9.5.4",
        f"http://127.0.0.1:{lifecycle_port}",
        "started",
    )
    assert probe.cluster_health(url) in ("green", "yellow")

    status = tandem("engines", "status", "--json")
    assert status.returncode == 0, status.stderr
    rows = {row["url"]: row for row in json.loads(status.stdout)}
    row = rows[url]
    assert (row["state"], row["origin"]) == ("running", "started")
    pgid = row["pid"]
    assert len(_processes_in_group(pgid)) >= 1

    # A second `up` attaches to it instead of starting another JVM.
    again = tandem("engines", "up", "elasticsearch", "--port", str(lifecycle_port))
    assert again.returncode == 0 and "attached" in again.stderr

    down = tandem("engines", "down", "elasticsearch", "--port", str(lifecycle_port))
    assert down.returncode == 0, down.stderr
    assert "elasticsearch-9.5.4" in down.stdout
    assert _processes_in_group(pgid) == []
    assert probe.port_is_free(lifecycle_port)
    assert url not in {
        row["url"] for row in json.loads(tandem("engines", "status", "--json").stdout)
    }


def test_env_url_attaches_to_the_running_engine(engine: EngineHandle) -> None:
    result = tandem("engines", "up", engine.kind.value, env={engine.kind.url_env: engine.url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split("\t") == [engine.name, engine.url, "attached"]


def test_unknown_version_names_the_artifact_and_the_log() -> None:
    result = tandem(
        "engines", "up", "opensearch", "--version", "3.9.9", "--port", str(FAILING_PORT)
    )
    assert result.returncode == 2
    assert (
        "org.opensearch.distribution.integ-test-zip:opensearch:3.9.9:zip is not available"
        in result.stderr
    )
    assert "setup.log" in result.stderr


def test_port_in_use_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", FAILING_PORT))
        sock.listen()
        result = tandem("engines", "up", "opensearch", "--port", str(FAILING_PORT))
    assert result.returncode == 2
    assert f"port {FAILING_PORT}" in result.stderr and "in use" in result.stderr


def test_engine_exiting_during_start_shows_its_log() -> None:
    result = tandem(
        "engines",
        "up",
        "elasticsearch",
        "--port",
        str(FAILING_PORT),
        "--setting",
        "bogus.setting=1",
    )
    assert result.returncode == 2
    assert "Elasticsearch 9.5.4 exited during start" in result.stderr
    assert "unknown setting [bogus.setting]" in result.stderr
    assert "tandem-elasticsearch_server.json" in result.stderr
    assert probe.port_is_free(FAILING_PORT)


def test_wrong_java_is_reported(tmp_path: Path) -> None:
    old_jdk = tmp_path / "jdk-17"
    (old_jdk / "bin").mkdir(parents=True)
    (old_jdk / "bin" / "java").write_text("#!/bin/sh\n")
    (old_jdk / "release").write_text('JAVA_VERSION="17.0.15"\n')
    result = tandem(
        "engines",
        "up",
        "opensearch",
        "--port",
        str(FAILING_PORT),
        env={"OPENSEARCH_JAVA_HOME": str(old_jdk)},
    )
    assert result.returncode == 2
    assert "is Java 17, but OpenSearch 3.6.0 needs Java 21+" in result.stderr


@pytest.fixture
def private_engines() -> Iterator[Path]:
    """An engines folder of this test's own (a bare ``down`` in it can touch no one else's
    engine), holding the shared folder's installed Elasticsearch as hard links."""
    root = Path(tempfile.mkdtemp(prefix="tandem-engines-", dir="/tmp"))
    root.chmod(0o755)  # the engines run as the unprivileged 'tandem' user when root
    name = engine_spec(EngineKind.ELASTICSEARCH, None, None).name
    installed = engines_dir() / "dist" / name
    if (installed / ".tandem-installed.json").is_file():
        (root / "dist").mkdir()
        subprocess.run(["cp", "-al", str(installed), str(root / "dist" / name)], check=True)
    yield root
    launcher = Launcher(root, provider="process")  # whatever the test left running
    for state in (root / "instances").glob("*/state.json"):
        handle = load_handle(state)
        if handle is not None:
            launcher.stop(handle, grace=30)
    shutil.rmtree(root, ignore_errors=True)


# Another program starting an engine in the same folder, as tandem demo or a benchmark does.
OTHER_PROGRAM = """
import sys
from tandem.integration.config import StartOptions
from tandem.integration.launcher import Launcher
from tandem.plugin.engines.kinds import EngineKind
handle = Launcher(provider="process").up(
    EngineKind.ELASTICSEARCH, port=int(sys.argv[1]), options=StartOptions(heap="256m")
)
print(handle.url)
"""


def test_bare_down_stops_only_what_engines_up_started(private_engines: Path) -> None:
    env = {"TANDEM_ENGINES_DIR": str(private_engines)}
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROGRAM, str(THEIRS_PORT)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    theirs = other.stdout.strip()
    up = tandem(
        "engines", "up", "elasticsearch", "--port", str(OURS_PORT), "--heap", "256m", env=env
    )
    assert up.returncode == 0, up.stderr
    ours = up.stdout.strip().split("\t")[1]

    rows = {
        row["url"]: row for row in json.loads(tandem("engines", "status", "--json", env=env).stdout)
    }
    theirs_group = rows[theirs]["pid"]

    down = tandem("engines", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert probe.cluster_health(theirs) in ("green", "yellow"), "down stopped another's engine"
    assert probe.port_is_free(OURS_PORT)
    assert down.stdout.strip() == "stopped: elasticsearch-9.5.4"
    assert f"left elasticsearch-9.5.4 on {theirs} running" in down.stderr
    assert "tandem engines down --all" in down.stderr
    assert rows[ours]["started_by"] == "tandem engines up"
    assert rows[theirs]["started_by"].startswith("python (pid ")

    everything = tandem("engines", "down", "--all", env=env)
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.strip() == "stopped: elasticsearch-9.5.4"
    assert _processes_in_group(theirs_group) == []
    assert probe.port_is_free(THEIRS_PORT)
    assert json.loads(tandem("engines", "status", "--json", env=env).stdout) == []

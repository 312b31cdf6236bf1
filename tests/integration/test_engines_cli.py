"""``tandem engines`` as a user runs it: real processes, real Maven, real engines."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.integration import probe
from tandem.integration.handle import EngineHandle

from .cli import tandem


def _free_port_pair(start: int) -> int:
    """An HTTP port whose transport twin (+100) is free too, away from the matrix's ports."""
    for port in range(start, start + 50):
        if probe.port_is_free(port) and probe.port_is_free(port + 100):
            return port
    raise RuntimeError(f"no free port pair in {start}..{start + 50}")


LIFECYCLE_PORT = _free_port_pair(9400)
FAILING_PORT = _free_port_pair(LIFECYCLE_PORT + 1)


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


def test_unknown_version_names_maven_and_the_log() -> None:
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

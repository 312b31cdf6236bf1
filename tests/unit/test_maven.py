from __future__ import annotations

import os
from pathlib import Path

import pytest

from tandem.integration import maven
from tandem.integration.errors import ArtifactNotFoundError, EngineError, ToolMissingError
from tandem.integration.specs import MavenArtifact

ARTIFACT = MavenArtifact("org.example", "engine", "9.9.9")


def _fake_mvn(tmp_path: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text("#!/bin/sh\n" + script)
    mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_missing_maven_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError, match="apt-get install maven"):
        maven.find_maven()


def test_missing_version_names_the_artifact_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_mvn(
        tmp_path,
        "echo '[ERROR] Could not find artifact org.example:engine:zip:9.9.9 in central'\nexit 1\n",
        monkeypatch,
    )
    log = tmp_path / "setup.log"
    with pytest.raises(ArtifactNotFoundError) as err:
        maven.fetch(ARTIFACT, tmp_path / "cache", Path("/usr"), log)
    assert "org.example:engine:9.9.9:zip is not available on Maven Central" in str(err.value)
    assert str(log) in str(err.value)


def test_other_maven_failures_point_at_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_mvn(tmp_path, "echo 'network is down'\nexit 3\n", monkeypatch)
    with pytest.raises(EngineError, match="exit 3"):
        maven.fetch(ARTIFACT, tmp_path / "cache", Path("/usr"), tmp_path / "setup.log")


def test_fetch_moves_the_file_into_the_cache_and_reuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake mvn writes the file into -DoutputDirectory and counts its calls.
    counter = tmp_path / "calls"
    script = (
        f'echo x >> {counter}\nfor a in "$@"; do case "$a" in '
        '-DoutputDirectory=*) echo zip > "${a#-DoutputDirectory=}/engine-9.9.9.zip";; esac; done\n'
    )
    _fake_mvn(tmp_path, script, monkeypatch)
    cache = tmp_path / "cache"
    first = maven.fetch(ARTIFACT, cache, Path("/usr"), tmp_path / "setup.log")
    second = maven.fetch(ARTIFACT, cache, Path("/usr"), tmp_path / "setup.log")
    assert first == second == cache / "engine-9.9.9.zip"
    assert counter.read_text().count("x") == 1
    assert [p.name for p in cache.iterdir()] == ["engine-9.9.9.zip"]

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from tandem.integration import launcher as launcher_module
from tandem.integration import probe
from tandem.integration.errors import EngineUnreachableError, PortInUseError
from tandem.integration.install import extract_zip
from tandem.integration.launcher import Launcher
from tandem.integration.process import tail
from tandem.integration.pytest_plugin import engine_matrix
from tandem.plugin.engines.kinds import EngineKind


def _identify_as(kind: EngineKind, version: str):  # type: ignore[no-untyped-def]
    return lambda url, timeout=3.0: probe.EngineIdentity(kind, version, url)


def test_env_url_attaches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_OPENSEARCH_URL", "http://search.internal:9200")
    monkeypatch.setattr(probe, "identify", _identify_as(EngineKind.OPENSEARCH, "2.19.6"))
    handle = Launcher(tmp_path, provider="process").up(EngineKind.OPENSEARCH)
    assert (handle.origin, handle.version, handle.url) == (
        "attached",
        "2.19.6",
        "http://search.internal:9200",
    )


def test_env_url_of_the_wrong_engine_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_OPENSEARCH_URL", "http://u:pw@es:9200")
    monkeypatch.setattr(probe, "identify", _identify_as(EngineKind.ELASTICSEARCH, "9.5.4"))
    with pytest.raises(EngineUnreachableError) as err:
        Launcher(tmp_path, provider="process").up(EngineKind.OPENSEARCH)
    assert "is Elasticsearch 9.5.4, not OpenSearch" in str(err.value)
    assert "pw" not in str(err.value)


def test_env_url_that_does_not_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_ELASTICSEARCH_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(probe, "identify", lambda url, timeout=3.0: None)
    with pytest.raises(EngineUnreachableError, match="does not answer"):
        Launcher(tmp_path, provider="process").up(EngineKind.ELASTICSEARCH)


def test_other_engine_on_the_port_is_a_port_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANDEM_OPENSEARCH_URL", raising=False)
    monkeypatch.setattr(probe, "identify", _identify_as(EngineKind.ELASTICSEARCH, "9.5.4"))
    with pytest.raises(PortInUseError, match=r"answers with Elasticsearch 9\.5\.4"):
        Launcher(tmp_path, provider="process").up(EngineKind.OPENSEARCH)


def test_same_engine_on_the_port_is_attached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANDEM_ELASTICSEARCH_URL", raising=False)
    monkeypatch.setattr(probe, "identify", _identify_as(EngineKind.ELASTICSEARCH, "9.5.4"))
    handle = Launcher(tmp_path, provider="process").up(EngineKind.ELASTICSEARCH)
    assert handle.origin == "attached"
    # ...but not when another version was asked for explicitly.
    with pytest.raises(PortInUseError, match=r"not Elasticsearch 9\.4\.5"):
        Launcher(tmp_path, provider="process").up(EngineKind.ELASTICSEARCH, "9.4.5")


def test_unknown_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="auto, process or docker"):
        Launcher(tmp_path, provider="kubernetes")


def test_docker_provider_without_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_OPENSEARCH_URL", raising=False)
    monkeypatch.setattr(probe, "identify", lambda url, timeout=3.0: None)
    monkeypatch.setattr(probe, "port_is_free", lambda port, host="127.0.0.1": True)
    monkeypatch.setattr(launcher_module.containers, "docker_available", lambda: False)
    with pytest.raises(launcher_module.EngineError, match="no Docker engine answers"):
        Launcher(tmp_path, provider="docker").up(EngineKind.OPENSEARCH)


def test_engine_matrix_parsing() -> None:
    assert engine_matrix("opensearch, elasticsearch:9.4.5,opensearch:2.19.6") == [
        (EngineKind.OPENSEARCH, "3.6.0"),
        (EngineKind.ELASTICSEARCH, "9.4.5"),
        (EngineKind.OPENSEARCH, "2.19.6"),
    ]
    with pytest.raises(ValueError, match="names no engine"):
        engine_matrix(" , ")


def test_extract_zip_keeps_the_executable_bit(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("engine/bin/start")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("engine/README", "hi")
    extract_zip(archive, tmp_path / "out")
    assert (tmp_path / "out/engine/bin/start").stat().st_mode & 0o111
    assert (tmp_path / "out/engine/README").read_text() == "hi"


def test_tail_makes_json_log_lines_readable(tmp_path: Path) -> None:
    log = tmp_path / "server.json"
    record = {"log.level": "ERROR", "message": "fatal", "error.message": "unknown setting [x]"}
    log.write_text("plain line\n" + json.dumps(record) + "\n")
    assert tail(log) == "plain line\n[ERROR] fatal: unknown setting [x]"
    assert tail(tmp_path / "missing.log") == ""


def test_stale_state_never_signals_a_reused_pid(tmp_path: Path) -> None:
    import subprocess

    from tandem.integration.handle import EngineHandle
    from tandem.integration.process import group_alive, start_ticks

    # A live process group that is not the engine the state file remembers.
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        ticks = start_ticks(bystander.pid)
        assert ticks is not None
        instance = tmp_path / "instances" / "opensearch-3.6.0-9200"
        instance.mkdir(parents=True)
        stale = EngineHandle(
            EngineKind.OPENSEARCH,
            "3.6.0",
            "http://127.0.0.1:9200",
            "started",
            pid=bystander.pid,
            instance=instance.name,
            pid_start=ticks - 1,
        )
        stale.save(instance / "state.json")
        launcher = Launcher(tmp_path, provider="process")
        assert [row.state for row in launcher.status()] == ["stopped"]
        assert launcher.down() == ["opensearch-3.6.0"]  # forgotten, not signalled
        assert not (instance / "state.json").exists()
        assert bystander.poll() is None and group_alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()

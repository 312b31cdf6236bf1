from __future__ import annotations

import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import docker.errors
import pytest
import requests

from tandem.integration import launcher as launcher_module
from tandem.integration import probe
from tandem.integration.config import StartOptions
from tandem.integration.errors import EngineStartError, EngineUnreachableError, PortInUseError
from tandem.integration.handle import EngineHandle, load_handle
from tandem.integration.install import extract_zip
from tandem.integration.launcher import Launcher
from tandem.integration.process import tail
from tandem.integration.pytest_plugin import engine_matrix
from tandem.integration.specs import EngineSpec
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
        # forgotten, not signalled
        assert launcher.down(everything=True).stopped == ["opensearch-3.6.0"]
        assert not (instance / "state.json").exists()
        assert bystander.poll() is None and group_alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


# -- Docker answers, but the container cannot be had -----------------------------------


def _nothing_on_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_OPENSEARCH_URL", raising=False)
    monkeypatch.delenv("TANDEM_ELASTICSEARCH_URL", raising=False)
    # CI runs the matrix as processes (TANDEM_ENGINE_PROVIDER=process); these tests are
    # about the default, auto.
    monkeypatch.delenv("TANDEM_ENGINE_PROVIDER", raising=False)
    monkeypatch.setattr(probe, "identify", lambda url, timeout=3.0: None)
    monkeypatch.setattr(probe, "port_is_free", lambda port, host="127.0.0.1": True)
    monkeypatch.setattr(launcher_module.containers, "docker_available", lambda: True)


class Starters:
    """A container starter that raises ``error`` and a process starter that records."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.containers: list[EngineSpec] = []
        self.processes: list[EngineSpec] = []
        self.images: list[str] = []

    def container(self, spec: EngineSpec, image: str) -> EngineHandle:
        self.containers.append(spec)
        self.images.append(image)
        if self.error is not None:
            raise self.error
        return EngineHandle(spec.kind, spec.version, spec.url, "container", container_id="c0ffee")

    def process(self, spec: EngineSpec, options: StartOptions) -> EngineHandle:
        self.processes.append(spec)
        return EngineHandle(spec.kind, spec.version, spec.url, "started", pid=4242)


def _present(image: str) -> str | None:
    return None


def _launcher(
    tmp_path: Path,
    starters: Starters,
    said: list[str] | None = None,
    provider: str = "auto",
    image_problem: Callable[[str], str | None] = _present,
) -> Launcher:
    return Launcher(
        tmp_path,
        (said if said is not None else []).append,
        provider=provider,
        start_container=starters.container,
        start_process=starters.process,
        image_problem=image_problem,
    )


REGISTRY_DOWN = (
    'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
)
# What docker-py raises through testcontainers when the image cannot be pulled: the
# daemon's 500 when no registry answers, ImageNotFound (404) when the pull streamed its
# error and the image is still missing, a connection error when the daemon drops mid-pull.
FAILED_PULLS = [
    docker.errors.APIError("500 Server Error: Internal Server Error", explanation=REGISTRY_DOWN),
    docker.errors.ImageNotFound("No such image: opensearchproject/opensearch:3.6.0"),
    requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
]


@pytest.mark.parametrize("error", FAILED_PULLS, ids=lambda e: type(e).__name__)
def test_a_failed_pull_falls_back_to_a_local_process(
    error: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    starters = Starters(error)
    said: list[str] = []
    launcher = _launcher(tmp_path, starters, said)
    handle = launcher.up(EngineKind.OPENSEARCH)
    assert (handle.origin, handle.pid) == ("started", 4242)
    assert len(starters.containers) == len(starters.processes) == 1
    (fallback,) = [line for line in said if "as a local process instead" in line]
    assert "Docker could not start opensearchproject/opensearch:3.6.0" in fallback
    if isinstance(error, docker.errors.APIError) and error.explanation:
        assert "registry-1.docker.io: no such host" in fallback


def test_a_failed_pull_with_docker_asked_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    starters = Starters(FAILED_PULLS[0])
    launcher = _launcher(tmp_path, starters, provider="docker")
    with pytest.raises(EngineStartError) as err:
        launcher.up(EngineKind.OPENSEARCH)
    message = str(err.value)
    assert "registry-1.docker.io: no such host" in message
    assert "docker load" in message and "TANDEM_ENGINE_PROVIDER=process" in message
    assert starters.processes == []


def test_an_unhealthy_container_is_not_hidden_by_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    starters = Starters(EngineStartError("container was not healthy after 240s"))
    launcher = _launcher(tmp_path, starters)
    with pytest.raises(EngineStartError, match="not healthy"):
        launcher.up(EngineKind.OPENSEARCH)
    assert starters.processes == []


def test_a_started_container_is_recorded_for_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    removed: list[str] = []
    monkeypatch.setattr(launcher_module.containers, "stop", removed.append)
    starters = Starters()
    launcher = Launcher(
        tmp_path,
        owner="tandem engines up",
        start_container=starters.container,
        image_problem=_present,
    )
    handle = launcher.up(EngineKind.OPENSEARCH)
    assert (handle.origin, handle.started_by) == ("container", "tandem engines up")
    assert load_handle(tmp_path / "instances" / "opensearch-3.6.0-9200" / "state.json") == handle
    monkeypatch.setattr(probe, "cluster_health", lambda url, timeout=3.0: "green")
    assert [(row.origin, row.state) for row in launcher.status()] == [("container", "running")]
    assert launcher.down().stopped == ["opensearch-3.6.0"]
    assert removed == ["c0ffee"]


# -- which image, and whether Docker has it ---------------------------------------------


def test_auto_runs_a_local_process_when_the_image_cannot_be_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    starters = Starters()
    said: list[str] = []
    launcher = _launcher(
        tmp_path, starters, said, image_problem=lambda image: f"pull access denied for {image}"
    )
    handle = launcher.up(EngineKind.OPENSEARCH)
    assert handle.origin == "started" and starters.containers == []
    (line,) = [s for s in said if "as a local process instead" in s]
    assert "Docker has no opensearchproject/opensearch:3.6.0 and cannot pull it" in line
    assert "pull access denied" in line and "--runtime process" in line


def test_the_docker_runtime_without_the_image_says_how_to_build_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    starters = Starters()
    launcher = _launcher(
        tmp_path, starters, provider="docker", image_problem=lambda image: "no such host"
    )
    with pytest.raises(EngineStartError) as err:
        launcher.up(EngineKind.ELASTICSEARCH, image="tandem/elasticsearch")
    assert "Docker has no tandem/elasticsearch:9.5.4" in str(err.value)
    assert "tandem engines image elasticsearch" in str(err.value)
    assert starters.processes == starters.containers == []


def test_the_image_repository_comes_from_the_call_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    checked: list[str] = []
    starters = Starters()

    def check(image: str) -> None:
        checked.append(image)

    launcher = _launcher(tmp_path, starters, image_problem=check)
    monkeypatch.setenv("TANDEM_OPENSEARCH_IMAGE", "registry.example/os")
    launcher.up(EngineKind.OPENSEARCH, port=9301)
    launcher.up(EngineKind.OPENSEARCH, port=9302, image="tandem/opensearch")
    monkeypatch.delenv("TANDEM_OPENSEARCH_IMAGE")
    launcher.up(EngineKind.OPENSEARCH, port=9303)
    expected = [
        "registry.example/os:3.6.0",
        "tandem/opensearch:3.6.0",
        "opensearchproject/opensearch:3.6.0",
    ]
    assert checked == starters.images == expected


def test_auto_without_docker_says_it_runs_a_local_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_on_the_port(monkeypatch)
    monkeypatch.setattr(launcher_module.containers, "docker_available", lambda: False)
    starters = Starters()
    said: list[str] = []
    launcher = _launcher(tmp_path, starters, said)
    assert launcher.up(EngineKind.ELASTICSEARCH).origin == "started"
    assert said == ["no Docker engine answers: running Elasticsearch 9.5.4 as a local process"]
    assert starters.containers == []


# -- down stops its own owner's engines ------------------------------------------------


def test_down_stops_only_its_owners_engines_unless_told_everything(tmp_path: Path) -> None:
    import subprocess

    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()  # a process group that has ended: stop() only forgets its state
    for port, owner in ((9200, "tandem engines up"), (9201, "pytest")):
        instance = tmp_path / "instances" / f"opensearch-3.6.0-{port}"
        instance.mkdir(parents=True)
        EngineHandle(
            EngineKind.OPENSEARCH,
            "3.6.0",
            f"http://127.0.0.1:{port}",
            "started",
            pid=gone.pid,
            instance=instance.name,
            started_by=owner,
        ).save(instance / "state.json")
    launcher = Launcher(tmp_path, owner="tandem engines up")
    report = launcher.down()
    assert report.stopped == ["opensearch-3.6.0"]
    assert [(h.port, h.started_by) for h in report.kept] == [(9201, "pytest")]
    assert launcher.down(everything=True).stopped == ["opensearch-3.6.0"]
    assert list((tmp_path / "instances").glob("*/state.json")) == []


def test_state_saved_before_owners_were_recorded_is_no_ones(tmp_path: Path) -> None:
    instance = tmp_path / "instances" / "elasticsearch-9.5.4-9210"
    instance.mkdir(parents=True)
    (instance / "state.json").write_text(
        json.dumps(
            {"kind": "elasticsearch", "version": "9.5.4", "url": "http://127.0.0.1:9210",
             "origin": "started", "pid": None, "log": None, "container_id": None,
             "instance": instance.name, "pid_start": None}
        )
    )  # fmt: skip
    report = Launcher(tmp_path, owner="tandem engines up").down()
    assert report.stopped == [] and [h.started_by for h in report.kept] == [None]

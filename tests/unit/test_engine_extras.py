from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tandem.integration import probe
from tandem.integration.config import InstanceLayout, engine_settings, render_yaml
from tandem.integration.errors import EngineError, PortInUseError
from tandem.integration.extras import ML_COMMONS
from tandem.integration.handle import EngineHandle, load_handle
from tandem.integration.launcher import Launcher
from tandem.integration.specs import EngineKind, engine_spec
from tandem.plugin.cli import main
from tandem.plugin.cli.engines import _short_plugins


def test_ml_adds_job_scheduler_then_ml_after_the_engines_own_plugins() -> None:
    spec = engine_spec(EngineKind.OPENSEARCH, extras=(ML_COMMONS,))
    # opensearch-ml extends opensearch-job-scheduler, which must be installed first.
    assert [p.artifact for p in spec.plugins] == [
        "opensearch-knn",
        "neural-search",
        "opensearch-job-scheduler",
        "opensearch-ml-plugin",
    ]
    assert {(p.group, p.version) for p in spec.plugins} == {("org.opensearch.plugin", "3.6.0.0")}
    assert spec.extras == (ML_COMMONS,)


def test_an_engine_with_extras_has_a_home_and_instance_of_its_own() -> None:
    plain = engine_spec(EngineKind.OPENSEARCH, "2.19.6", 9250)
    with_ml = engine_spec(EngineKind.OPENSEARCH, "2.19.6", 9250, (ML_COMMONS, ML_COMMONS))
    assert plain.name == "opensearch-2.19.6"
    assert with_ml.name == "opensearch-2.19.6-with-ml"  # no '+': the plugin tool decodes it
    assert with_ml.extras == (ML_COMMONS,)
    assert plain.plugins == with_ml.plugins[:2] and plain.modules == with_ml.modules


def test_extras_are_refused_for_elasticsearch_with_the_command_that_works() -> None:
    with pytest.raises(ValueError) as err:
        engine_spec(EngineKind.ELASTICSEARCH, extras=(ML_COMMONS,))
    assert str(err.value) == (
        "ML Commons (--with ml) is for OpenSearch only, not Elasticsearch: "
        "'tandem engines up opensearch --with ml'"
    )


def _rendered_ml_settings() -> dict[str, object]:
    spec = engine_spec(EngineKind.OPENSEARCH, port=9240, extras=(ML_COMMONS,))
    loaded = yaml.safe_load(render_yaml(engine_settings(spec, InstanceLayout(Path("/i")))))
    assert isinstance(loaded, dict)
    return loaded


def test_ml_node_settings_survive_yaml() -> None:
    settings = _rendered_ml_settings()
    assert settings["http.port"] == 9240
    assert settings["plugins.ml_commons.connector.private_ip_enabled"] is True
    assert settings["plugins.ml_commons.only_run_on_ml_node"] is False
    assert settings["plugins.ml_commons.jvm_heap_memory_threshold"] == 100
    assert settings["plugins.ml_commons.disk_free_space_threshold"] == "0b"


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("http://127.0.0.1:8765/dense", True),
        ("http://localhost/embed", True),
        ("https://[::1]:8443/v1/embeddings", True),
        ("http://host.docker.internal:9000", True),
        ("https://api.example.com/embed", False),
        ("http://127.0.0.1.example.com/embed", False),
        ("ftp://localhost/x", False),
    ],
)
def test_trusted_connector_endpoints_are_the_local_machine_on_any_port(
    url: str, trusted: bool
) -> None:
    # ML Commons matches the whole URL against each regex (Matcher.matches()).
    regexes = _rendered_ml_settings()["plugins.ml_commons.trusted_connector_endpoints_regex"]
    assert isinstance(regexes, list) and len(regexes) == 4
    assert any(re.fullmatch(r, url) for r in regexes) is trusted


def test_plain_engines_get_no_ml_settings() -> None:
    spec = engine_spec(EngineKind.OPENSEARCH)
    assert not any("ml_commons" in key for key in engine_settings(spec, InstanceLayout(Path("/i"))))


def test_handles_remember_their_extras_and_old_state_still_loads(tmp_path: Path) -> None:
    handle = EngineHandle(
        EngineKind.OPENSEARCH, "3.6.0", "http://127.0.0.1:9240", "started", extras=("ml",)
    )
    handle.save(tmp_path / "state.json")
    assert load_handle(tmp_path / "state.json") == handle
    assert handle.name == "opensearch-3.6.0-with-ml"
    data = json.loads((tmp_path / "state.json").read_text())
    del data["extras"]  # saved before extras existed
    (tmp_path / "state.json").write_text(json.dumps(data))
    old = load_handle(tmp_path / "state.json")
    assert old is not None and old.extras == () and old.name == "opensearch-3.6.0"


def test_an_engine_without_ml_on_the_port_is_not_attached_for_ml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANDEM_OPENSEARCH_URL", raising=False)
    identity = probe.EngineIdentity(EngineKind.OPENSEARCH, "3.6.0", "http://127.0.0.1:9240")
    monkeypatch.setattr(probe, "identify", lambda url, timeout=3.0: identity)
    plugins = ["opensearch-knn", "opensearch-neural-search"]
    monkeypatch.setattr(probe, "plugin_names", lambda url, timeout=3.0: plugins)
    launcher = Launcher(tmp_path, provider="process")
    with pytest.raises(PortInUseError, match=r"answers with OpenSearch 3\.6\.0 without ML Commons"):
        launcher.up(EngineKind.OPENSEARCH, port=9240, extras=(ML_COMMONS,))
    plugins.append("opensearch-ml")
    handle = launcher.up(EngineKind.OPENSEARCH, port=9240, extras=(ML_COMMONS,))
    assert (handle.origin, handle.name) == ("attached", "opensearch-3.6.0-with-ml")


def test_docker_only_is_refused_for_extras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_OPENSEARCH_URL", raising=False)
    monkeypatch.setattr(probe, "identify", lambda url, timeout=3.0: None)
    monkeypatch.setattr(probe, "port_is_free", lambda port, host="127.0.0.1": True)
    with pytest.raises(EngineError, match="only as a local process"):
        Launcher(tmp_path, provider="docker").up(
            EngineKind.OPENSEARCH, port=9240, extras=(ML_COMMONS,)
        )


def test_cli_refuses_ml_for_elasticsearch_before_starting_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["engines", "up", "all", "--with", "ml"]) == 2
    assert "is for OpenSearch only, not Elasticsearch" in capsys.readouterr().err


def test_status_shows_plugins_without_their_prefix() -> None:
    assert _short_plugins(None) == "-" and _short_plugins([]) == "-"
    names = ["opensearch-neural-search", "opensearch-ml", "opensearch-job-scheduler"]
    assert _short_plugins(names) == "job-scheduler,ml,neural-search"

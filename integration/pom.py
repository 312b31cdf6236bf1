"""Read Maven POMs and walk an artifact's runtime dependency tree.

Enough of Maven's model for the jars the launcher rebuilds engine modules
from: ``compile`` and ``runtime`` dependencies (``optional`` ones left out),
exclusions (``*`` wildcards included), ``${...}`` properties, and versions
inherited from parent POMs' ``<properties>`` and ``<dependencyManagement>``.
Conflicts are settled as Maven settles them: the nearest declaration wins,
then the first. Imported BOMs and version ranges are not read; a dependency
that needs them fails with a message that says so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import EngineError
from .specs import MavenArtifact

_NS = "{http://maven.apache.org/POM/4.0.0}"
_PROPERTY = re.compile(r"\$\{([^}]+)\}")
_RUNTIME_SCOPES = ("", "compile", "runtime")
_JAR_TYPES = ("", "jar", "bundle")


class PomError(EngineError):
    """A POM cannot be read, or a dependency's version cannot be worked out."""


@dataclass(frozen=True)
class Dependency:
    group: str
    artifact: str
    version: str
    scope: str = ""
    type: str = ""
    optional: bool = False
    exclusions: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Pom:
    """One POM as written: its own coordinates, parent, properties and dependencies."""

    group: str
    artifact: str
    version: str
    parent: MavenArtifact | None = None
    properties: dict[str, str] = field(default_factory=dict)
    managed: dict[tuple[str, str], str] = field(default_factory=dict)
    dependencies: tuple[Dependency, ...] = ()


def _text(node: ET.Element | None, tag: str) -> str:
    child = node.find(f"{_NS}{tag}") if node is not None else None
    return (child.text or "").strip() if child is not None else ""


def _dependencies(node: ET.Element | None) -> tuple[Dependency, ...]:
    if node is None:
        return ()
    found = []
    for dep in node.findall(f"{_NS}dependency"):
        exclusions = frozenset(
            (_text(ex, "groupId"), _text(ex, "artifactId"))
            for ex in dep.findall(f"{_NS}exclusions/{_NS}exclusion")
        )
        found.append(
            Dependency(
                group=_text(dep, "groupId"),
                artifact=_text(dep, "artifactId"),
                version=_text(dep, "version"),
                scope=_text(dep, "scope"),
                type=_text(dep, "type"),
                optional=_text(dep, "optional") == "true",
                exclusions=exclusions,
            )
        )
    return tuple(found)


def parse_pom(text: str | bytes, source: str = "POM") -> Pom:
    """The parts of a POM the resolver reads; ``source`` names it in errors."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise PomError(f"{source} is not valid XML: {err}") from None
    if root.tag != f"{_NS}project":
        raise PomError(f"{source} is not a Maven POM (root element {root.tag!r})")
    parent_node = root.find(f"{_NS}parent")
    parent = None
    if parent_node is not None:
        parent = MavenArtifact(
            _text(parent_node, "groupId"),
            _text(parent_node, "artifactId"),
            _text(parent_node, "version"),
            "pom",
        )
    properties_node = root.find(f"{_NS}properties")
    properties = {}
    if properties_node is not None:
        for prop in properties_node:
            properties[prop.tag.removeprefix(_NS)] = (prop.text or "").strip()
    managed = {
        (dep.group, dep.artifact): dep.version
        for dep in _dependencies(root.find(f"{_NS}dependencyManagement/{_NS}dependencies"))
        if dep.scope != "import"
    }
    return Pom(
        group=_text(root, "groupId") or (parent.group if parent else ""),
        artifact=_text(root, "artifactId"),
        version=_text(root, "version") or (parent.version if parent else ""),
        parent=parent,
        properties=properties,
        managed=managed,
        dependencies=_dependencies(root.find(f"{_NS}dependencies")),
    )


@dataclass(frozen=True)
class _Model:
    """A POM with what its parents give it: properties and managed versions."""

    pom: Pom
    properties: dict[str, str]
    managed: dict[tuple[str, str], str]

    def interpolate(self, value: str) -> str:
        for _ in range(10):  # properties may refer to properties
            expanded = _PROPERTY.sub(lambda m: self.properties.get(m.group(1), m.group(0)), value)
            if expanded == value:
                break
            value = expanded
        return value


LoadPom = Callable[[MavenArtifact], Pom]


def _effective(artifact: MavenArtifact, load: LoadPom) -> _Model:
    pom = load(artifact)
    chain = [pom]
    while pom.parent is not None and len(chain) < 20:
        pom = load(pom.parent)
        chain.append(pom)
    properties: dict[str, str] = {}
    managed: dict[tuple[str, str], str] = {}
    for pom in reversed(chain):  # the child overrides its parents
        properties.update(pom.properties)
        managed.update(pom.managed)
    own = chain[0]
    properties.update(
        {
            "project.groupId": own.group,
            "project.artifactId": own.artifact,
            "project.version": own.version,
            "version": own.version,
            "groupId": own.group,
        }
    )
    if own.parent is not None:
        properties["project.parent.version"] = own.parent.version
        properties["project.parent.groupId"] = own.parent.group
    model = _Model(own, properties, {})
    return _Model(own, properties, {k: model.interpolate(v) for k, v in managed.items()})


def _excluded(group: str, artifact: str, patterns: Iterable[tuple[str, str]]) -> bool:
    return any(g in ("*", group) and a in ("*", artifact) for g, a in patterns)


def runtime_dependencies(
    root: MavenArtifact, exclusions: Iterable[tuple[str, str]], load: LoadPom
) -> list[MavenArtifact]:
    """The jars ``root`` needs at run time, itself first, in Maven's order.

    ``exclusions`` are ``(group, artifact)`` patterns pruned from the whole
    tree together with everything only they pull in; ``load`` returns the POM
    of an artifact (downloading it, in the launcher).
    """
    chosen: dict[tuple[str, str], MavenArtifact] = {(root.group, root.artifact): root}
    queue: deque[tuple[MavenArtifact, frozenset[tuple[str, str]]]] = deque(
        [(root, frozenset(exclusions))]
    )
    while queue:
        artifact, excluded = queue.popleft()
        model = _effective(
            MavenArtifact(artifact.group, artifact.artifact, artifact.version, "pom"), load
        )
        for dep in model.pom.dependencies:
            group, name = model.interpolate(dep.group), model.interpolate(dep.artifact)
            scope = model.interpolate(dep.scope)
            if dep.optional or scope not in _RUNTIME_SCOPES:
                continue
            if (group, name) in chosen or _excluded(group, name, excluded):
                continue
            version = model.interpolate(dep.version or model.managed.get((group, name), ""))
            if not version or "${" in version or version[:1] in "[(":
                raise PomError(
                    f"cannot work out the version of {group}:{name}, a dependency of "
                    f"{artifact.coordinates} (got {version or 'none'!r}; imported BOMs and "
                    "version ranges are not supported)"
                )
            if model.interpolate(dep.type) not in _JAR_TYPES:
                raise PomError(
                    f"{group}:{name}:{version} (a dependency of {artifact.coordinates}) has "
                    f"type {dep.type!r}; only jar dependencies are supported"
                )
            found = MavenArtifact(group, name, version, "jar")
            chosen[(group, name)] = found
            queue.append((found, excluded | dep.exclusions))
    return list(chosen.values())

"""Turn an engine's own answers into :class:`Capabilities`.

Detection is one or two GET requests made by the adapters
(:data:`NODES_PATH` with :data:`NODES_FILTER` on both engines, and
``GET /_license`` on Elasticsearch); everything here is a pure function of
their JSON, unit-tested on responses recorded from real engines.

The local node's info carries the version and build type on both engines, so
OpenSearch needs no ``GET /`` and Elasticsearch's integ-test zip, which
refuses ``GET /``, is read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .base import Capabilities, Json
from .kinds import EngineKind

NODES_PATH = "/_nodes/_local/plugins"
# Engines drop empty lists under filter_path: a node without plugins has no "plugins" key.
NODES_FILTER = "nodes.*.version,nodes.*.build_type,nodes.*.plugins.name,nodes.*.modules.name"
LICENSE_PATH = "/_license"

KNN_PLUGIN = "opensearch-knn"
NEURAL_PLUGIN = "opensearch-neural-search"
MAPPER_EXTRAS = "mapper-extras"
RANK_RRF = "rank-rrf"
# The Maven integ-test zips report "zip"; their k-NN plugin has no native
# libraries, and indexing into a faiss field kills the node (docs/engines.md).
NO_NATIVE_KNN_BUILD = "zip"
RETRIEVER_LICENSES = frozenset({"enterprise", "trial"})

Version = tuple[int, int, int]
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class NodeInfo:
    """What the local node says about itself: version, build, plugins and modules."""

    version: Version
    build_type: str
    plugins: frozenset[str]


@dataclass(frozen=True)
class License:
    """An Elasticsearch licence: its type and whether it is in force."""

    type: str
    active: bool


def parse_version(text: str) -> Version:
    """``"3.6.0"`` → ``(3, 6, 0)``; suffixes such as ``-SNAPSHOT`` are ignored."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise ValueError(f"engine version must look like 3.6.0, got {text!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def parse_node(response: Mapping[str, Any]) -> NodeInfo:
    """Read :data:`NODES_PATH` (filtered by :data:`NODES_FILTER`) for the one local node."""
    nodes = response.get("nodes")
    if not isinstance(nodes, Mapping) or len(nodes) != 1:
        raise ValueError(f"expected exactly one local node in the node info, got {nodes!r}")
    node = next(iter(nodes.values()))
    if "version" not in node:
        raise ValueError(f"the node info has no version: {node!r}")
    entries = [*node.get("plugins", []), *node.get("modules", [])]
    return NodeInfo(
        version=parse_version(str(node["version"])),
        build_type=str(node.get("build_type", "unknown")),
        plugins=frozenset(str(entry.get("name")) for entry in entries),
    )


def parse_license(response: Mapping[str, Any] | None) -> License | None:
    """Read ``GET /_license``; ``None`` when the engine has no licensing (no x-pack)."""
    info = (response or {}).get("license")
    if not isinstance(info, Mapping) or "type" not in info:
        return None
    return License(type=str(info["type"]), active=info.get("status") == "active")


def opensearch_capabilities(node: NodeInfo) -> Capabilities:
    """What an OpenSearch node offers, from its version and plugins."""
    knn = KNN_PLUGIN in node.plugins
    neural = NEURAL_PLUGIN in node.plugins
    hybrid = neural and node.version >= (2, 10, 0)
    techniques: tuple[str, ...] = ()
    if hybrid:
        techniques = ("min_max", "l2") + (("z_score",) if node.version >= (3, 0, 0) else ())
    knn_engines: tuple[str, ...] = ()
    if knn:
        knn_engines = ("lucene",) if node.build_type == NO_NATIVE_KNN_BUILD else ("lucene", "faiss")
    return Capabilities(
        kind=EngineKind.OPENSEARCH,
        version=node.version,
        build_type=node.build_type,
        plugins=node.plugins,
        license=None,
        dense=knn,
        knn_engines=knn_engines,
        rank_features=MAPPER_EXTRAS in node.plugins,
        sparse_vector=neural and node.version >= (3, 3, 0),
        neural_sparse=neural,
        hybrid_query=hybrid,
        normalization_techniques=techniques,
        rrf_pipeline=neural and node.version >= (2, 19, 0),
        retrievers=(),
    )


def elasticsearch_capabilities(node: NodeInfo, license: License | None) -> Capabilities:
    """What an Elasticsearch node offers, from its version, modules and licence."""
    return Capabilities(
        kind=EngineKind.ELASTICSEARCH,
        version=node.version,
        build_type=node.build_type,
        plugins=node.plugins,
        license=license.type if license else None,
        dense=True,
        knn_engines=(),
        rank_features=MAPPER_EXTRAS in node.plugins,
        sparse_vector=node.version >= (8, 15, 0),
        neural_sparse=False,
        hybrid_query=False,
        normalization_techniques=(),
        rrf_pipeline=False,
        retrievers=_retrievers(node, license),
    )


def _retrievers(node: NodeInfo, license: License | None) -> tuple[str, ...]:
    licensed = license is not None and license.active and license.type in RETRIEVER_LICENSES
    if not licensed or RANK_RRF not in node.plugins:
        return ()
    found = []
    if node.version >= (8, 14, 0):
        found.append("rrf")
    if node.version >= (8, 18, 0):
        found.append("linear")
    return tuple(found)


def capabilities_json(capabilities: Capabilities) -> Json:
    """Plain JSON for ``tandem engines info --json``: text version, sorted lists."""
    data: Json = {}
    for field in fields(capabilities):
        value = getattr(capabilities, field.name)
        if isinstance(value, EngineKind):
            value = value.value
        elif field.name == "version":
            value = capabilities.version_text
        elif isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        data[field.name] = value
    return data

"""Capability detection, on node-info and licence JSON recorded from real engines.

Recorded on 2026-11-23 from the Maven integ-test zips that `tandem engines up`
runs: GET /_nodes/_local/plugins?filter_path=<NODES_FILTER> and GET /_license.
"""

from __future__ import annotations

from typing import Any

import pytest

from tandem.plugin.engines.capabilities import (
    License,
    NodeInfo,
    capabilities_json,
    elasticsearch_capabilities,
    opensearch_capabilities,
    parse_license,
    parse_node,
    parse_version,
)
from tandem.plugin.engines.kinds import EngineKind


def _named(*names: str) -> list[dict[str, str]]:
    return [{"name": n} for n in names]


OPENSEARCH_3_6_0 = {
    "nodes": {
        "kC61R-9_RratiJFp3btKYw": {
            "version": "3.6.0",
            "build_type": "zip",
            "plugins": _named("opensearch-knn", "opensearch-neural-search"),
            "modules": _named(
                "aggs-matrix-stats",
                "analysis-common",
                "cache-common",
                "geo",
                "ingest-common",
                "ingest-geoip",
                "ingest-user-agent",
                "lang-expression",
                "lang-mustache",
                "lang-painless",
                "mapper-extras",
                "opensearch-dashboards",
                "parent-join",
                "percolator",
                "rank-eval",
                "reindex",
                "repository-url",
                "rule-framework",
                "search-pipeline-common",
                "store-subdirectory",
                "transport-grpc",
                "transport-netty4",
            ),
        }
    }
}

OPENSEARCH_2_19_6 = {
    "nodes": {
        "gYaA18U9ScOfCaqJbzaW9A": {
            "version": "2.19.6",
            "build_type": "zip",
            "plugins": _named("opensearch-knn", "opensearch-neural-search"),
            "modules": _named(
                "analysis-common",
                "lang-painless",
                "mapper-extras",
                "search-pipeline-common",
                "transport-netty4",
            ),
        }
    }
}

# No "plugins" key: filter_path drops the empty list.
ELASTICSEARCH_9_5_4 = {
    "nodes": {
        "v71CZo9pRUmnmsc-arjhzQ": {
            "version": "9.5.4",
            "build_type": "zip",
            "modules": _named("apm", "transport-netty4", "x-pack-core", "x-pack-security"),
        }
    }
}

BASIC_LICENSE = {
    "license": {
        "status": "active",
        "uid": "400f43aa-8031-4a6e-9d32-44064cce441f",
        "type": "basic",
        "issue_date": "2026-11-23T19:09:04.147Z",
        "issue_date_in_millis": 1795460944147,
        "max_nodes": 1000,
        "max_resource_units": None,
        "issued_to": "tandem-elasticsearch",
        "issuer": "elasticsearch",
        "start_date_in_millis": -1,
    }
}


def _licence(kind: str, status: str = "active") -> dict[str, Any]:
    return {"license": {**BASIC_LICENSE["license"], "type": kind, "status": status}}


def _full_es(version: str) -> dict[str, Any]:
    """A full Elasticsearch distribution: mapper-extras and rank-rrf are modules."""
    return {
        "nodes": {
            "n1": {
                "version": version,
                "build_type": "tar",
                "modules": _named("mapper-extras", "rank-rrf", "x-pack-core"),
            }
        }
    }


def test_opensearch_3_6_0_zip() -> None:
    caps = opensearch_capabilities(parse_node(OPENSEARCH_3_6_0))
    assert caps.kind is EngineKind.OPENSEARCH
    assert (caps.version, caps.version_text, caps.build_type) == ((3, 6, 0), "3.6.0", "zip")
    assert {"opensearch-knn", "opensearch-neural-search", "mapper-extras"} <= caps.plugins
    assert caps.license is None
    assert caps.dense and caps.knn_engines == ("lucene",)  # no faiss: the zip has no natives
    assert caps.rank_features and caps.sparse_vector and caps.neural_sparse
    assert caps.hybrid_query and caps.rrf_pipeline
    assert caps.normalization_techniques == ("min_max", "l2", "z_score")
    assert caps.retrievers == ()
    assert caps.sparse_field_types == ("rank_features", "sparse_vector")


def test_opensearch_2_19_6_zip() -> None:
    caps = opensearch_capabilities(parse_node(OPENSEARCH_2_19_6))
    assert caps.version == (2, 19, 6)
    assert caps.knn_engines == ("lucene",)
    assert caps.rank_features and not caps.sparse_vector
    assert caps.hybrid_query and caps.rrf_pipeline
    assert caps.normalization_techniques == ("min_max", "l2")  # z_score came with 3.0
    assert caps.sparse_field_types == ("rank_features",)


def test_opensearch_full_build_has_faiss() -> None:
    node = NodeInfo((3, 6, 0), "tar", frozenset({"opensearch-knn"}))
    assert opensearch_capabilities(node).knn_engines == ("lucene", "faiss")


def test_opensearch_without_plugins() -> None:
    caps = opensearch_capabilities(NodeInfo((3, 6, 0), "tar", frozenset({"mapper-extras"})))
    assert not caps.dense and caps.knn_engines == ()
    assert not (caps.sparse_vector or caps.neural_sparse or caps.hybrid_query)
    assert caps.normalization_techniques == () and not caps.rrf_pipeline
    assert caps.rank_features


@pytest.mark.parametrize(
    ("version", "hybrid", "rrf", "sparse_vector"),
    [("2.9.0", False, False, False), ("2.10.0", True, False, False), ("3.2.0", True, True, False)],
)
def test_opensearch_version_gates(
    version: str, hybrid: bool, rrf: bool, sparse_vector: bool
) -> None:
    plugins = frozenset({"opensearch-knn", "opensearch-neural-search"})
    caps = opensearch_capabilities(NodeInfo(parse_version(version), "tar", plugins))
    assert (caps.hybrid_query, caps.rrf_pipeline, caps.sparse_vector) == (
        hybrid,
        rrf,
        sparse_vector,
    )


def test_elasticsearch_9_5_4_basic_zip() -> None:
    caps = elasticsearch_capabilities(parse_node(ELASTICSEARCH_9_5_4), parse_license(BASIC_LICENSE))
    assert caps.kind is EngineKind.ELASTICSEARCH
    assert (caps.version, caps.build_type, caps.license) == ((9, 5, 4), "zip", "basic")
    assert caps.plugins == frozenset({"apm", "transport-netty4", "x-pack-core", "x-pack-security"})
    assert caps.dense and caps.knn_engines == ()
    assert not caps.rank_features  # no mapper-extras in the zip
    assert caps.sparse_vector
    assert not (caps.neural_sparse or caps.hybrid_query or caps.rrf_pipeline)
    assert caps.normalization_techniques == () and caps.retrievers == ()


@pytest.mark.parametrize("kind", ["trial", "enterprise"])
def test_elasticsearch_licensed_retrievers(kind: str) -> None:
    caps = elasticsearch_capabilities(parse_node(_full_es("9.5.4")), parse_license(_licence(kind)))
    assert caps.retrievers == ("rrf", "linear")
    assert caps.rank_features and caps.license == kind


@pytest.mark.parametrize(
    ("version", "expected"),
    [("8.13.4", ()), ("8.14.0", ("rrf",)), ("8.17.2", ("rrf",)), ("8.18.0", ("rrf", "linear"))],
)
def test_elasticsearch_retrievers_by_version(version: str, expected: tuple[str, ...]) -> None:
    caps = elasticsearch_capabilities(
        parse_node(_full_es(version)), parse_license(_licence("enterprise"))
    )
    assert caps.retrievers == expected


@pytest.mark.parametrize(
    "licence",
    [_licence("basic"), _licence("platinum"), _licence("trial", status="expired"), None],
    ids=["basic", "platinum", "expired-trial", "no-licensing"],
)
def test_elasticsearch_no_retrievers_without_licence(licence: dict[str, Any] | None) -> None:
    caps = elasticsearch_capabilities(parse_node(_full_es("9.5.4")), parse_license(licence))
    assert caps.retrievers == ()


def test_elasticsearch_retrievers_need_the_module() -> None:
    caps = elasticsearch_capabilities(parse_node(ELASTICSEARCH_9_5_4), License("trial", True))
    assert caps.retrievers == ()


def test_elasticsearch_sparse_vector_from_8_15() -> None:
    assert not elasticsearch_capabilities(parse_node(_full_es("8.14.3")), None).sparse_vector
    assert elasticsearch_capabilities(parse_node(_full_es("8.15.0")), None).sparse_vector


def test_parse_license() -> None:
    assert parse_license(BASIC_LICENSE) == License("basic", True)
    assert parse_license(_licence("trial", "expired")) == License("trial", False)
    assert parse_license({}) is None
    assert parse_license(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3.6.0", (3, 6, 0)), ("8.15.0-SNAPSHOT", (8, 15, 0)), ("3.0.0-alpha1", (3, 0, 0))],
)
def test_parse_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected


def test_parse_version_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="latest"):
        parse_version("latest")


def test_parse_node_wants_one_node_with_a_version() -> None:
    with pytest.raises(ValueError, match="one local node"):
        parse_node({"nodes": {}})
    with pytest.raises(ValueError, match="no version"):
        parse_node({"nodes": {"n1": {"build_type": "zip"}}})


def test_capabilities_json() -> None:
    data = capabilities_json(opensearch_capabilities(parse_node(OPENSEARCH_2_19_6)))
    assert data["kind"] == "opensearch"
    assert data["version"] == "2.19.6"
    assert data["build_type"] == "zip"
    assert data["license"] is None
    assert data["plugins"] == sorted(data["plugins"])
    assert data["knn_engines"] == ["lucene"]
    assert data["normalization_techniques"] == ["min_max", "l2"]
    assert data["sparse_vector"] is False and data["hybrid_query"] is True

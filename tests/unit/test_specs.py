from __future__ import annotations

import pytest

from tandem.integration.specs import EngineKind, engine_spec, major_of, parse_kind


def test_default_opensearch_spec_has_knn_and_neural_search_on_java_21_plus() -> None:
    spec = engine_spec(EngineKind.OPENSEARCH)
    assert spec.version == "3.6.0"
    assert spec.distribution.coordinates == (
        "org.opensearch.distribution.integ-test-zip:opensearch:3.6.0:zip"
    )
    assert [p.artifact for p in spec.plugins] == ["opensearch-knn", "neural-search"]
    assert all(p.version == "3.6.0.0" for p in spec.plugins)
    assert (spec.min_java, spec.max_java) == (21, None)
    assert spec.modules == ()
    assert (spec.http_port, spec.transport_port) == (9200, 9300)


def test_opensearch_2_needs_a_java_with_the_security_manager_and_rebuilt_modules() -> None:
    spec = engine_spec(EngineKind.OPENSEARCH, "2.19.6")
    assert spec.max_java == 23
    assert spec.http_port == 9220
    assert {m.name for m in spec.modules} >= {"lang-painless", "mapper-extras"}


def test_elasticsearch_spec() -> None:
    spec = engine_spec(EngineKind.ELASTICSEARCH)
    assert spec.version == "9.5.4"
    assert spec.plugins == ()
    assert spec.min_java == 21
    assert spec.url == "http://127.0.0.1:9210"
    assert spec.java_home_env == "ES_JAVA_HOME"
    assert spec.conf_env == "ES_PATH_CONF"


def test_explicit_port_moves_transport_port_too() -> None:
    spec = engine_spec(EngineKind.ELASTICSEARCH, port=9400)
    assert (spec.http_port, spec.transport_port) == (9400, 9500)


@pytest.mark.parametrize("bad", ["3.6", "latest", "3.6.0-SNAPSHOT", ""])
def test_bad_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"look like 3\.6\.0"):
        engine_spec(EngineKind.OPENSEARCH, bad or "x")
    with pytest.raises(ValueError):
        major_of(bad)


def test_parse_kind_lists_choices() -> None:
    assert parse_kind("OpenSearch") is EngineKind.OPENSEARCH
    with pytest.raises(ValueError, match="opensearch, elasticsearch"):
        parse_kind("solr")

"""The ``tandem`` clause: parsing with JSON-path errors, and embedding retriever queries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tandem.plugin.search.extension import (
    DslError,
    apply_overrides,
    embed_bodies,
    embed_native,
    parse_tandem_query,
)
from tandem.plugin.search.options import SearchOptions

USER = {
    "bool": {
        "must": [{"tandem": {"query": "vitamin d", "method": "linear", "window": 50}}],
        "filter": [{"term": {"lang": "en"}}],
    }
}


def test_parse_finds_the_clause_and_its_options() -> None:
    tq = parse_tandem_query(USER)
    assert tq.text == "vitamin d"
    assert tq.path == ("bool", "must", 0)
    assert tq.overrides == {"method": "linear", "window": 50}
    options = apply_overrides(SearchOptions(), tq)
    assert (options.method, options.window) == ("linear", 50)


@pytest.mark.parametrize(
    "dsl, path, problem",
    [
        ({}, "query", "must be a query object"),
        ([{"tandem": {}}], "query", "must be a query object"),
        ({"match_all": {}}, "query", "no 'tandem' clause"),
        (
            {"bool": {"must": [{"tandem": {"query": "a"}}, {"tandem": {"query": "b"}}]}},
            "query.bool.must[1].tandem",
            "a second 'tandem' clause",
        ),
        ({"bool": {"must": [{"tandem": "text"}]}}, "query.bool.must[0].tandem", "an object"),
        ({"tandem": {"text": "x"}}, "query.tandem.text", "unknown option"),
        ({"tandem": {"query": ""}}, "query.tandem.query", "non-empty string"),
        ({"tandem": {"query": 7}}, "query.tandem.query", "non-empty string"),
        ({"tandem": {"query": "x", "method": "bm42"}}, "query.tandem.method", "one of bm25"),
        ({"tandem": {"query": "x", "window": 0}}, "query.tandem.window", "1..10000"),
        ({"tandem": {"query": "x", "window": "9"}}, "query.tandem.window", "integer"),
        ({"tandem": {"query": "x", "rank_constant": -1}}, "query.tandem.rank_constant", ""),
        ({"tandem": {"query": "x", "fields": []}}, "query.tandem.fields", "non-empty list"),
        ({"tandem": {"query": "x", "weights": {"colbert": 1}}}, "query.tandem.weights", "bm25"),
        ({"tandem": {"query": "x", "weights": {"bm25": -2}}}, "query.tandem.weights", ">= 0"),
        ({"tandem": {"query": "x", "normalization": "softmax"}}, "query.tandem.normalization", ""),
        (
            {"bool": {"must": {"tandem": {"query": "x"}, "boost": 2}}},
            "query.bool.must.tandem",
            "clause of its own",
        ),
    ],
)
def test_malformed_clauses_name_their_json_path(dsl: Any, path: str, problem: str) -> None:
    with pytest.raises(DslError) as err:
        parse_tandem_query(dsl)
    assert err.value.path == path
    assert problem in str(err.value)
    assert str(err.value).startswith(path + ":")


def test_an_option_the_search_refuses_names_the_clause() -> None:
    tq = parse_tandem_query({"tandem": {"query": "x", "window": 5}})
    with pytest.raises(DslError, match=r"^query\.tandem: window \(5\) must cover"):
        apply_overrides(SearchOptions(size=10), tq)


def test_sidecar_bodies_run_inside_the_user_query() -> None:
    tq = parse_tandem_query(USER)
    bodies = {
        "bm25": {"size": 50, "_source": False, "query": {"multi_match": {"query": "vitamin d"}}},
        "dense": {"size": 50, "_source": False, "knn": {"field": "embedding", "k": 50}},
    }
    out = embed_bodies(tq, bodies)
    assert out["bm25"] == {
        "size": 50,
        "_source": False,
        "query": {
            "bool": {
                "must": [{"multi_match": {"query": "vitamin d"}}],
                "filter": [{"term": {"lang": "en"}}],
            }
        },
    }
    # Elasticsearch's top-level knn becomes a knn query inside the user's bool
    assert out["dense"]["query"]["bool"]["must"] == [{"knn": {"field": "embedding", "k": 50}}]
    assert "knn" not in out["dense"]
    assert USER["bool"]["must"][0]["tandem"]["query"] == "vitamin d"  # input untouched


def test_native_opensearch_hybrid_sub_queries_are_embedded() -> None:
    tq = parse_tandem_query(USER)
    body = {"size": 10, "query": {"hybrid": {"queries": [{"match": {"t": "a"}}, {"knn": {}}]}}}
    out = embed_native(tq, body)
    queries = out["query"]["hybrid"]["queries"]
    assert [q["bool"]["must"][0] for q in queries] == [{"match": {"t": "a"}}, {"knn": {}}]
    assert all(q["bool"]["filter"] == [{"term": {"lang": "en"}}] for q in queries)


def test_native_elasticsearch_retrievers_are_embedded() -> None:
    tq = parse_tandem_query(USER)
    body = {
        "size": 10,
        "retriever": {
            "rrf": {
                "retrievers": [
                    {"retriever": {"standard": {"query": {"match": {"t": "a"}}}}, "weight": 2},
                    {"retriever": {"knn": {"field": "embedding", "k": 10}}, "weight": 1},
                ],
                "rank_window_size": 100,
            }
        },
    }
    out = embed_native(tq, body)
    first, second = out["retriever"]["rrf"]["retrievers"]
    assert first["weight"] == 2
    assert first["retriever"]["standard"]["query"]["bool"]["must"] == [{"match": {"t": "a"}}]
    assert second["retriever"]["standard"]["query"]["bool"]["must"] == [
        {"knn": {"field": "embedding", "k": 10}}
    ]


def test_user_text_stays_a_string_value() -> None:
    hostile = '"}}, {"script": {"source": "boom"}}, {"x": "'
    tq = parse_tandem_query({"tandem": {"query": hostile}})
    out = embed_bodies(tq, {"bm25": {"query": {"multi_match": {"query": tq.text}}}})
    assert out["bm25"]["query"] == {"multi_match": {"query": hostile}}
    assert "script" not in json.loads(json.dumps(out))["bm25"]["query"]

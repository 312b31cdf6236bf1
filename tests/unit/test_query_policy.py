"""The allow-list of user query types."""

from __future__ import annotations

from typing import Any

import pytest

from tandem.plugin.search.policy import QueryNotAllowed, check_query


@pytest.mark.parametrize(
    "clause",
    [
        {"term": {"lang": "en"}},
        {"range": {"year": {"gte": 2010}}},
        {"bool": {"must": [{"match": {"text": "x"}}], "filter": {"exists": {"field": "y"}}}},
        {"nested": {"path": "p", "query": {"term": {"p.a": 1}}}},
        {"bool": {"must": [{"tandem": {"query": "hybrid"}}]}},
        {"dis_max": {"queries": [{"term": {"a": 1}}, {"ids": {"values": ["1"]}}]}},
    ],
)
def test_plain_queries_pass(clause: dict[str, Any]) -> None:
    check_query(clause, "filters_json[0]")


@pytest.mark.parametrize(
    "clause, path, words",
    [
        ({"script": {"script": "true"}}, "filters_json[0].script", "--allow-scripts"),
        (
            {"bool": {"filter": [{"term": {"a": 1}}, {"script_score": {}}]}},
            "filters_json[0].bool.filter[1].script_score",
            "run scripts",
        ),
        (
            {"constant_score": {"filter": {"function_score": {}}}},
            "filters_json[0].constant_score.filter.function_score",
            "run scripts",
        ),
        ({"percolate": {"field": "q"}}, "filters_json[0].percolate", "not allowed"),
        ({"term": {"a": 1}, "range": {}}, "filters_json[0]", "one query type"),
    ],
)
def test_scripts_and_unknown_types_are_refused_with_their_path(
    clause: dict[str, Any], path: str, words: str
) -> None:
    with pytest.raises(QueryNotAllowed) as err:
        check_query(clause, "filters_json[0]")
    assert str(err.value).startswith(path + ":")
    assert words in str(err.value)


def test_an_operator_can_allow_scripts() -> None:
    check_query({"bool": {"filter": [{"script": {"script": "true"}}]}}, "q", allow_scripts=True)
    with pytest.raises(QueryNotAllowed):
        check_query({"percolate": {}}, "q", allow_scripts=True)  # still not on the list

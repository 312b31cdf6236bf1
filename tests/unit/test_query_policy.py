"""The query policy: a table of user bodies, what the default policy does with each,
and which operator switch (if any) lets a refused one through.

Field names are data, not DSL: a query on a field literally named ``script``,
``wrapper``, ``tandem`` or ``indexed_shape`` passes, and so do sparse query
tokens with such names. Every other key, at any depth, is read as DSL.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.plugin.search.policy import QueryNotAllowed, QueryPolicy, check_query

TANDEM = {"tandem": {"query": "vitamin d"}}
VECTOR = [0.1, 0.2, 0.3]
SCRIPT = {"script": {"source": "doc['year'].value > 2000"}}
LOOKUP = {"index": "other", "id": "1", "path": "tags"}
SCRIPTS = "scripts"
CROSS_INDEX = "cross_index"
# Keys the walk gives a meaning to, for the property test.
KEYS = [
    "bool", "filter", "must", "knn", "neural_sparse", "method_parameters", "terms", "term",
    "more_like_this", "like", "nested", "query", "inner_hits", "sort", "highlight",
    "highlight_query", "fields", "function_score", "functions", "script", "_script",
    "wrapper", "tandem", "indexed_shape", "percolate", "pinned", "docs", "field",
]  # fmt: skip
HINTS = {
    SCRIPTS: "tandem serve --allow-scripts",
    CROSS_INDEX: "tandem serve --allow-cross-index-queries",
}


class Row(NamedTuple):
    name: str
    body: dict[str, Any]
    is_filter: bool  # a user filter, else the user DSL (the tandem clause's query)
    refused: bool  # by the default policy
    path: str = ""  # the JSON path the refusal names
    switch: str | None = None  # the operator switch that lets it through; None: nothing does


def hostile(name: str, body: dict[str, Any], path: str, switch: str | None) -> Row:
    return Row(name, body, path.startswith("filters"), True, path, switch)


def benign(name: str, body: dict[str, Any], is_filter: bool = True) -> Row:
    return Row(name, body, is_filter, False)


ROWS = [
    # scripts, wherever they hide
    hostile("script query", SCRIPT, "filters[0].script", SCRIPTS),
    hostile(
        "script deep in dis_max",
        {
            "bool": {
                "must": [TANDEM],
                "filter": [
                    {"dis_max": {"queries": [{"term": {"a": 1}}, {"bool": {"filter": [SCRIPT]}}]}}
                ],
            }
        },
        "query.bool.filter[0].dis_max.queries[1].bool.filter[0].script",
        SCRIPTS,
    ),
    hostile(
        "terms_set minimum_should_match_script",
        {
            "terms_set": {
                "tags": {"terms": ["a", "b"], "minimum_should_match_script": SCRIPT["script"]}
            }
        },
        "filters[0].terms_set.tags.minimum_should_match_script",
        SCRIPTS,
    ),
    hostile(
        "script in an OpenSearch knn filter",
        {
            "knn": {
                "embedding": {"vector": VECTOR, "k": 5, "filter": {"bool": {"filter": [SCRIPT]}}}
            }
        },
        "filters[0].knn.embedding.filter.bool.filter[0].script",
        SCRIPTS,
    ),
    hostile(
        "script in an Elasticsearch knn filter",
        {"knn": {"field": "embedding", "query_vector": VECTOR, "k": 5, "filter": [SCRIPT]}},
        "filters[0].knn.filter[0].script",
        SCRIPTS,
    ),
    hostile(
        "script in neural_sparse method_parameters filter",
        {"neural_sparse": {"sparse": {"query_text": "x", "method_parameters": {"filter": SCRIPT}}}},
        "filters[0].neural_sparse.sparse.method_parameters.filter.script",
        SCRIPTS,
    ),
    hostile(
        "nested inner_hits script_fields",
        {
            "nested": {
                "path": "p",
                "query": {"match_all": {}},
                "inner_hits": {"script_fields": {"x": SCRIPT}},
            }
        },
        "filters[0].nested.inner_hits.script_fields",
        SCRIPTS,
    ),
    hostile(
        "has_child inner_hits script_fields",
        {
            "has_child": {
                "type": "answer",
                "query": {"match_all": {}},
                "inner_hits": {"script_fields": {"x": SCRIPT}},
            }
        },
        "filters[0].has_child.inner_hits.script_fields",
        SCRIPTS,
    ),
    hostile(
        "has_parent inner_hits _script sort",
        {
            "has_parent": {
                "parent_type": "question",
                "query": {"match_all": {}},
                "inner_hits": {"sort": [{"_script": {"type": "number", **SCRIPT}}]},
            }
        },
        "filters[0].has_parent.inner_hits.sort[0]._script",
        SCRIPTS,
    ),
    hostile(
        "nested inner_hits _script sort",
        {
            "nested": {
                "path": "p",
                "query": {"match_all": {}},
                "inner_hits": {"sort": {"_script": {}}},
            }
        },
        "filters[0].nested.inner_hits.sort._script",
        SCRIPTS,
    ),
    hostile(
        "script in the nested filter of an inner_hits sort",
        {
            "nested": {
                "path": "p",
                "query": {"match_all": {}},
                "inner_hits": {"sort": [{"p.price": {"nested": {"path": "p", "filter": SCRIPT}}}]},
            }
        },
        "filters[0].nested.inner_hits.sort[0].p.price.nested.filter.script",
        SCRIPTS,
    ),
    hostile(
        "script in an inner_hits highlight_query",
        {
            "nested": {
                "path": "p",
                "query": {"match_all": {}},
                "inner_hits": {"highlight": {"fields": {"p.text": {}}, "highlight_query": SCRIPT}},
            }
        },
        "filters[0].nested.inner_hits.highlight.highlight_query.script",
        SCRIPTS,
    ),
    hostile(
        "function_score with a script_score function",
        {"function_score": {"query": {"match_all": {}}, "functions": [{"script_score": SCRIPT}]}},
        "filters[0].function_score",
        SCRIPTS,
    ),
    hostile(
        "script_score query in the DSL",
        {"script_score": {"query": TANDEM, "script": {"source": "_score * 2"}}},
        "query.script_score",
        SCRIPTS,
    ),
    hostile(
        "function_score inside nested",
        {"nested": {"path": "p", "query": {"function_score": {"query": {"match_all": {}}}}}},
        "filters[0].nested.query.function_score",
        SCRIPTS,
    ),
    hostile(
        "a script option in range field options",
        {"range": {"year": {"gte": 2000, "script": {"source": "1"}}}},
        "filters[0].range.year.script",
        SCRIPTS,
    ),
    # reads of other indices
    hostile("terms lookup", {"terms": {"tags": LOOKUP}}, "filters[0].terms.tags", CROSS_INDEX),
    hostile(
        "terms lookup deep in constant_score must_not",
        {"constant_score": {"filter": {"bool": {"must_not": [{"terms": {"tags": LOOKUP}}]}}}},
        "filters[0].constant_score.filter.bool.must_not[0].terms.tags",
        CROSS_INDEX,
    ),
    hostile(
        "terms lookup in a knn filter",
        {"knn": {"embedding": {"vector": VECTOR, "k": 5, "filter": {"terms": {"tags": LOOKUP}}}}},
        "filters[0].knn.embedding.filter.terms.tags",
        CROSS_INDEX,
    ),
    hostile(
        "terms lookup under boosting negative in the DSL",
        {
            "boosting": {
                "positive": TANDEM,
                "negative": {"terms": {"tags": LOOKUP}},
                "negative_boost": 0.5,
            }
        },
        "query.boosting.negative.terms.tags",
        CROSS_INDEX,
    ),
    hostile(
        "more_like_this like documents",
        {
            "bool": {
                "must": [TANDEM],
                "should": [
                    {
                        "more_like_this": {
                            "fields": ["text"],
                            "like": ["some text", {"_index": "secrets", "_id": "1"}],
                        }
                    }
                ],
            }
        },
        "query.bool.should[0].more_like_this.like[1]",
        CROSS_INDEX,
    ),
    hostile(
        "more_like_this like one document",
        {"more_like_this": {"fields": ["text"], "like": {"_id": "7"}}},
        "filters[0].more_like_this.like",
        CROSS_INDEX,
    ),
    hostile(
        "more_like_this unlike documents",
        {
            "more_like_this": {
                "fields": ["text"],
                "like": "x",
                "unlike": [{"_index": "o", "_id": "2"}],
            }
        },
        "filters[0].more_like_this.unlike[0]",
        CROSS_INDEX,
    ),
    hostile(
        "more_like_this artificial doc",
        {"more_like_this": {"like": [{"_index": "other", "doc": {"text": "x"}}]}},
        "filters[0].more_like_this.like[0]",
        CROSS_INDEX,
    ),
    hostile(
        "geo_shape indexed_shape",
        {
            "geo_shape": {
                "location": {"indexed_shape": {"index": "shapes", "id": "de", "path": "g"}}
            }
        },
        "filters[0].geo_shape.location.indexed_shape",
        CROSS_INDEX,
    ),
    # never allowed
    hostile(
        "percolate an indexed document",
        {"percolate": {"field": "query", "index": "other", "id": "1"}},
        "filters[0].percolate",
        None,
    ),
    hostile(
        "pinned documents of another index",
        {"pinned": {"docs": [{"_index": "o", "_id": "1"}], "organic": {"match_all": {}}}},
        "filters[0].pinned",
        None,
    ),
    hostile(
        "shape indexed_shape (not on the list)",
        {"shape": {"geometry": {"indexed_shape": {"index": "shapes", "id": "x"}}}},
        "filters[0].shape",
        None,
    ),
    hostile(
        "intervals with a script filter (not on the list)",
        {"intervals": {"text": {"match": {"query": "x", "filter": SCRIPT}}}},
        "filters[0].intervals",
        None,
    ),
    hostile(
        "wrapper", {"wrapper": {"query": "eyJtYXRjaF9hbGwiOnt9fQ=="}}, "filters[0].wrapper", None
    ),
    hostile(
        "wrapper in a knn filter",
        {
            "knn": {
                "embedding": {"vector": VECTOR, "k": 5, "filter": {"wrapper": {"query": "e30="}}}
            }
        },
        "filters[0].knn.embedding.filter.wrapper",
        None,
    ),
    hostile(
        "wrapper in an inner_hits sort filter",
        {
            "nested": {
                "path": "p",
                "query": {"match_all": {}},
                "inner_hits": {"sort": [{"p.n": {"nested": {"filter": {"wrapper": {}}}}}]},
            }
        },
        "filters[0].nested.inner_hits.sort[0].p.n.nested.filter.wrapper",
        None,
    ),
    hostile("a tandem clause as a filter", TANDEM, "filters[0].tandem", None),
    hostile(
        "a tandem clause inside a filter",
        {"bool": {"must": [TANDEM], "filter": [{"term": {"a": 1}}]}},
        "filters[0].bool.must[0].tandem",
        None,
    ),
    hostile("an unknown query type", {"match_everything": {}}, "filters[0].match_everything", None),
    hostile("two query types in one clause", {"term": {"a": 1}, "range": {}}, "filters[0]", None),
    # what must keep working
    benign("term", {"term": {"lang": "en"}}),
    benign("a term on a field named script", {"term": {"script": "latin"}}),
    benign("a term with options on a field named script", {"term": {"script": {"value": "x"}}}),
    benign("a range on a field named script", {"range": {"script": {"gte": 1}}}),
    benign("a match on a field named wrapper", {"match": {"wrapper": {"query": "paper"}}}),
    benign("a term on a field named tandem", {"term": {"tandem": "bicycle"}}),
    benign("exists on a field named script", {"exists": {"field": "script"}}),
    benign("terms on a field named script", {"terms": {"script": ["latin", "greek"], "boost": 2}}),
    benign(
        "terms_set with a field",
        {"terms_set": {"tags": {"terms": ["a"], "minimum_should_match_field": "n"}}},
    ),
    benign(
        "query_string mentioning script", {"query_string": {"query": "script:latin OR wrapper"}}
    ),
    benign(
        "more_like_this with texts", {"more_like_this": {"fields": ["text"], "like": ["a", "b"]}}
    ),
    benign(
        "geo_shape inline",
        {
            "geo_shape": {
                "location": {"shape": {"type": "envelope", "coordinates": [[0, 1], [1, 0]]}}
            }
        },
    ),
    benign(
        "OpenSearch knn with a filter",
        {"knn": {"embedding": {"vector": VECTOR, "k": 5, "filter": {"term": {"lang": "en"}}}}},
    ),
    benign(
        "Elasticsearch knn with filters",
        {
            "knn": {
                "field": "embedding",
                "query_vector": VECTOR,
                "k": 5,
                "num_candidates": 50,
                "filter": [{"term": {"lang": "en"}}],
            }
        },
    ),
    benign(
        "neural_sparse tokens named like DSL keys",
        {"neural_sparse": {"sparse": {"query_tokens": {"script": 1.2, "wrapper": 0.4}}}},
    ),
    benign(
        "sparse_vector tokens named like DSL keys",
        {"sparse_vector": {"field": "sparse", "query_vector": {"script": 1.0, "_script": 0.5}}},
    ),
    benign(
        "nested inner_hits sorted on a field named script",
        {
            "nested": {
                "path": "p",
                "query": {"term": {"p.a": 1}},
                "inner_hits": {
                    "sort": [{"script": "asc"}, "p.b"],
                    "_source": ["p.script"],
                    "highlight": {"fields": {"script": {}}},
                },
            }
        },
    ),
    benign(
        "dis_max of leaves",
        {"dis_max": {"queries": [{"term": {"a": 1}}, {"ids": {"values": ["1"]}}]}},
    ),
    benign(
        "the DSL's tandem clause",
        {"bool": {"must": [TANDEM], "filter": [{"term": {"lang": "en"}}]}},
        False,
    ),
    benign("the DSL as the tandem clause alone", TANDEM, False),
    benign(
        "a tandem clause inside nested in the DSL",
        {"nested": {"path": "p", "query": TANDEM}},
        False,
    ),
]


def run(policy: QueryPolicy, row: Row) -> None:
    if row.is_filter:
        policy.check([row.body], None)
    else:
        policy.check([], row.body)


def ids(rows: list[Row]) -> list[str]:
    return [row.name for row in rows]


REFUSED = [row for row in ROWS if row.refused]
SWITCHED = [row for row in REFUSED if row.switch is not None]


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_the_default_policy(row: Row) -> None:
    if not row.refused:
        run(QueryPolicy(), row)
        return
    with pytest.raises(QueryNotAllowed) as err:
        run(QueryPolicy(), row)
    message = str(err.value)
    assert message.startswith(row.path + ":"), message
    if row.switch is not None:
        assert HINTS[row.switch] in message


@pytest.mark.parametrize("row", SWITCHED, ids=ids(SWITCHED))
def test_the_operator_switch_lets_the_row_through(row: Row) -> None:
    run(QueryPolicy(**{f"allow_{row.switch}": True}), row)


@pytest.mark.parametrize("row", SWITCHED, ids=ids(SWITCHED))
def test_the_other_switch_does_not(row: Row) -> None:
    other = CROSS_INDEX if row.switch == SCRIPTS else SCRIPTS
    with pytest.raises(QueryNotAllowed, match=HINTS[str(row.switch)]):
        run(QueryPolicy(**{f"allow_{other}": True}), row)


@pytest.mark.parametrize(
    "row",
    [r for r in REFUSED if r.switch is None],
    ids=ids([r for r in REFUSED if r.switch is None]),
)
def test_some_rows_stay_refused_with_both_switches_on(row: Row) -> None:
    with pytest.raises(QueryNotAllowed) as err:
        run(QueryPolicy(allow_scripts=True, allow_cross_index=True), row)
    assert str(err.value).startswith(row.path + ":")


@pytest.mark.parametrize(
    "body, path",
    [
        (
            {"function_score": {"query": {"terms": {"t": LOOKUP}}, "functions": []}},
            "filters[0].function_score.query.terms.t",
        ),
        (
            {"function_score": {"functions": [{"filter": {"wrapper": {}}, "weight": 2}]}},
            "filters[0].function_score.functions[0].filter.wrapper",
        ),
        (
            {"script_score": {"query": {"percolate": {}}, **SCRIPT}},
            "filters[0].script_score.query.percolate",
        ),
    ],
)
def test_allowed_scripts_still_have_their_sub_queries_checked(
    body: dict[str, Any], path: str
) -> None:
    with pytest.raises(QueryNotAllowed) as err:
        QueryPolicy(allow_scripts=True).check([body], None)
    assert str(err.value).startswith(path + ":")


@pytest.mark.parametrize(
    "row, words",
    [
        (next(r for r in ROWS if r.name == "wrapper"), "base64"),
        (next(r for r in ROWS if r.name == "a tandem clause inside a filter"), "query DSL"),
        (next(r for r in ROWS if r.name == "an unknown query type"), "allowed: bool"),
        (next(r for r in ROWS if r.name == "percolate an indexed document"), "not allowed"),
    ],
    ids=["wrapper", "tandem in a filter", "unknown type", "percolate"],
)
def test_messages_say_what_to_do(row: Row, words: str) -> None:
    with pytest.raises(QueryNotAllowed, match=words):
        run(QueryPolicy(), row)


def test_check_query_checks_one_clause_under_the_path_given() -> None:
    with pytest.raises(QueryNotAllowed, match=r"^filters_json\[2\]\.bool\.filter\[0\]\.script:"):
        check_query({"bool": {"filter": [SCRIPT]}}, "filters_json[2]")
    check_query({"bool": {"filter": [SCRIPT]}}, "q", allow_scripts=True)


def nested_bools(levels: int) -> dict[str, Any]:
    clause: dict[str, Any] = {"term": {"a": 1}}
    for _ in range(levels):
        clause = {"bool": {"filter": [clause]}}
    return clause


def test_deep_nesting_is_refused_before_the_walk_could_overflow() -> None:
    QueryPolicy().check([nested_bools(30)], None)  # 30 bools: 92 levels of JSON
    with pytest.raises(QueryNotAllowed, match=r"^filters\[0\]: nested more than 100 levels"):
        QueryPolicy().check([nested_bools(300)], None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from([*KEYS, "x", "f"]) | st.text(max_size=6), children, max_size=3
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(body=json_values, scripts=st.booleans(), cross_index=st.booleans())
def test_any_json_is_either_allowed_or_refused_with_a_path(
    body: Any, scripts: bool, cross_index: bool
) -> None:
    policy = QueryPolicy(scripts, cross_index)
    try:
        policy.check([body], None)
        policy.check([], body)
    except QueryNotAllowed as err:
        assert str(err).startswith(("filters[0]", "query")), err

"""The rewriter: search requests validate themselves, and the exact DSL per engine."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from tandem.plugin.engines.base import Capabilities
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.search.query_dsl import num_candidates
from tandem.plugin.search.request import SearchRequest
from tandem.plugin.search.rewriter import (
    bm25_body,
    dense_body,
    hybrid_body,
    pipeline_body,
    retriever_body,
    sparse_body,
)

from ..capability_sets import ELASTICSEARCH_95, OPENSEARCH_36, OPENSEARCH_219

# What each engine of the matrix has (docs/engines.md), plus licensed and plugin-less variants.
OPENSEARCH_NO_NEURAL = replace(
    OPENSEARCH_36,
    plugins=frozenset({"opensearch-knn", "mapper-extras"}),
    sparse_vector=False,
    neural_sparse=False,
    hybrid_query=False,
    normalization_techniques=(),
    rrf_pipeline=False,
)
ELASTICSEARCH_ENTERPRISE = replace(
    ELASTICSEARCH_95,
    plugins=ELASTICSEARCH_95.plugins | {"rank-rrf", "mapper-extras"},
    license="enterprise",
    rank_features=True,
    retrievers=("rrf", "linear"),
)

VECTOR = [0.25, -0.5, 1.0]
# "u.s." and "100%" hold the characters encode_term escapes.
TERMS = {"heart": 1.5, "u.s.": 0.75, "100%": 0.5}
ENCODED = {"heart": 1.5, "u%2Es%2E": 0.75, "100%25": 0.5}
FILTER = {"term": {"category": "news"}}
FILTER_2 = {"range": {"year": {"gte": 2020}}}


def request(**changes: Any) -> SearchRequest:
    base: dict[str, Any] = {
        "index": "docs",
        "text": "heart attack",
        "vector": VECTOR,
        "sparse_terms": TERMS,
    }
    base.update(changes)
    return SearchRequest(**base)


FILTERED = request(filters=(FILTER, FILTER_2))
MULTI_MATCH = {
    "multi_match": {"query": "heart attack", "fields": ["title", "text"], "type": "cross_fields"}
}


def test_request_defaults_and_freezing() -> None:
    req = request(fields=["title^2", "body"], filters=[FILTER])
    assert (req.k, req.window) == (10, 100)
    assert (req.dense_field, req.sparse_field) == ("embedding", "sparse")
    assert req.fields == ("title^2", "body")
    assert req.filters == (FILTER,)
    assert req.vector == (0.25, -0.5, 1.0)
    assert dict(req.sparse_terms or {}) == TERMS
    with pytest.raises(TypeError):
        req.sparse_terms["heart"] = 2.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k": 0}, "k must be between 1 and 10000"),
        ({"k": 10_001, "window": 10_001}, "k must be between 1 and 10000"),
        ({"k": 2.5}, "k must be an integer"),
        ({"k": True}, "k must be an integer"),
        ({"k": 50, "window": 20}, r"window must be between 50 and 10000 .*at least k.*got 20"),
        ({"window": 10_001}, "window must be between 10 and 10000"),
        ({"window": "100"}, "window must be an integer"),
        ({"fields": ()}, "fields is empty"),
        ({"fields": "title"}, "fields must be a sequence"),
        ({"fields": ("title", "")}, "non-empty field name"),
        ({"index": ""}, "index must be a non-empty"),
        ({"text": None}, "text must be a string"),
        ({"filters": FILTER}, "not one clause"),
        ({"filters": ({},)}, r"filters\[0\] must be a query clause"),
        ({"vector": [0.1, float("nan")]}, r"vector\[1\] is nan"),
        ({"vector": []}, "vector is empty"),
        ({"vector": ["0.1"]}, r"vector\[0\] must be a number"),
        ({"sparse_terms": {"heart": 0.0}}, "weights must be finite and > 0"),
        ({"sparse_terms": {}}, "sparse_terms is empty"),
    ],
)
def test_request_validation(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request(**changes)


def test_window_bounds_are_inclusive() -> None:
    assert request(k=10_000, window=10_000).window == 10_000
    assert request(k=7, window=7).window == 7


@pytest.mark.parametrize("caps", [OPENSEARCH_36, ELASTICSEARCH_95])
def test_bm25_body(caps: Capabilities) -> None:
    assert bm25_body(request(), caps) == {"size": 100, "_source": False, "query": MULTI_MATCH}
    assert bm25_body(FILTERED, caps) == {
        "size": 100,
        "_source": False,
        "query": {"bool": {"must": [MULTI_MATCH], "filter": [FILTER, FILTER_2]}},
    }


def test_dense_body_opensearch() -> None:
    assert dense_body(request(window=50), OPENSEARCH_36) == {
        "size": 50,
        "_source": False,
        "query": {"knn": {"embedding": {"vector": VECTOR, "k": 50}}},
    }
    assert dense_body(FILTERED, OPENSEARCH_219) == {
        "size": 100,
        "_source": False,
        "query": {
            "knn": {
                "embedding": {
                    "vector": VECTOR,
                    "k": 100,
                    "filter": {"bool": {"filter": [FILTER, FILTER_2]}},
                }
            }
        },
    }


def test_dense_body_elasticsearch() -> None:
    assert dense_body(request(dense_field="vec"), ELASTICSEARCH_95) == {
        "size": 100,
        "_source": False,
        "knn": {"field": "vec", "query_vector": VECTOR, "k": 100, "num_candidates": 200},
    }
    assert dense_body(replace(FILTERED, window=30), ELASTICSEARCH_95) == {
        "size": 30,
        "_source": False,
        "knn": {
            "field": "embedding",
            "query_vector": VECTOR,
            "k": 30,
            "num_candidates": 100,
            "filter": [FILTER, FILTER_2],
        },
    }


def test_dense_body_over_passages() -> None:
    # OpenSearch: the knn query inside a nested query, each document scored by its best
    # passage; filters on the document's own fields stay a pre-filter inside knn.
    assert dense_body(replace(FILTERED, passages=True), OPENSEARCH_219) == {
        "size": 100,
        "_source": False,
        "query": {
            "nested": {
                "path": "embedding",
                "query": {
                    "knn": {
                        "embedding.vector": {
                            "vector": VECTOR,
                            "k": 100,
                            "filter": {"bool": {"filter": [FILTER, FILTER_2]}},
                        }
                    }
                },
                "score_mode": "max",
            }
        },
    }
    # Elasticsearch: kNN names the nested vector field and returns documents.
    assert dense_body(request(passages=True, window=30), ELASTICSEARCH_95) == {
        "size": 30,
        "_source": False,
        "knn": {
            "field": "embedding.vector",
            "query_vector": VECTOR,
            "k": 30,
            "num_candidates": 100,
        },
    }


def test_hybrid_body_over_passages_nests_only_the_dense_leg() -> None:
    body = hybrid_body(request(passages=True), OPENSEARCH_36, ["bm25", "dense"])
    bm25, dense = body["query"]["hybrid"]["queries"]
    assert bm25 == MULTI_MATCH
    assert dense["nested"]["path"] == "embedding"
    assert dense["nested"]["query"]["knn"]["embedding.vector"]["k"] == 100


@pytest.mark.parametrize(("window", "expected"), [(1, 100), (50, 100), (51, 102), (5000, 10_000)])
def test_num_candidates(window: int, expected: int) -> None:
    assert num_candidates(window) == expected
    assert window <= num_candidates(window) <= 10_000


def test_dense_needs_a_vector_and_knn() -> None:
    with pytest.raises(ValueError, match="needs the query vector"):
        dense_body(request(vector=None), OPENSEARCH_36)
    with pytest.raises(CapabilityError, match="install the opensearch-knn plugin"):
        dense_body(request(), replace(OPENSEARCH_36, dense=False))


def test_sparse_body_opensearch_neural_sparse() -> None:
    clause = {"neural_sparse": {"sparse": {"query_tokens": ENCODED}}}
    assert sparse_body(request(), OPENSEARCH_36, "rank_features") == {
        "size": 100,
        "_source": False,
        "query": clause,
    }
    assert sparse_body(FILTERED, OPENSEARCH_219, "rank_features") == {
        "size": 100,
        "_source": False,
        "query": {"bool": {"must": [clause], "filter": [FILTER, FILTER_2]}},
    }


RANK_FEATURES = {
    "bool": {
        "should": [
            {"rank_feature": {"field": "sparse.heart", "boost": 1.5, "linear": {}}},
            {"rank_feature": {"field": "sparse.u%2Es%2E", "boost": 0.75, "linear": {}}},
            {"rank_feature": {"field": "sparse.100%25", "boost": 0.5, "linear": {}}},
        ]
    }
}


@pytest.mark.parametrize(
    "caps",
    [OPENSEARCH_NO_NEURAL, replace(ELASTICSEARCH_95, rank_features=True)],
    ids=["opensearch-no-neural", "elasticsearch-full"],
)
def test_sparse_body_rank_feature_fallback(caps: Capabilities) -> None:
    assert sparse_body(request(), caps, "rank_features") == {
        "size": 100,
        "_source": False,
        "query": RANK_FEATURES,
    }
    # The should-sum stays a scoring must: beside a filter a bare should would turn optional.
    assert sparse_body(FILTERED, caps, "rank_features")["query"] == {
        "bool": {"must": [RANK_FEATURES], "filter": [FILTER, FILTER_2]}
    }


# OpenSearch's sparse_vector (SEISMIC) is keyed by token ids; Tandem writes term names.
OPENSEARCH_SPARSE_VECTOR = (
    "OpenSearch's SEISMIC sparse_vector (keyed by token ids) is not supported by Tandem; "
    "use rank_features (the default)"
)


@pytest.mark.parametrize(
    "caps",
    [OPENSEARCH_36, OPENSEARCH_219, OPENSEARCH_NO_NEURAL],
    ids=["3.6", "2.19", "3.6-no-neural"],
)
def test_opensearch_sparse_vector_is_refused(caps: Capabilities) -> None:
    # Refused whatever the engine detects: 3.6 reports a sparse_vector field.
    with pytest.raises(CapabilityError) as refused:
        sparse_body(request(), caps, "sparse_vector")
    assert str(refused.value) == f"{caps.label}: {OPENSEARCH_SPARSE_VECTOR}"
    if caps.hybrid_query:  # the same refusal inside OpenSearch's hybrid query
        with pytest.raises(CapabilityError, match=r"SEISMIC sparse_vector \(keyed by token ids\)"):
            hybrid_body(FILTERED, caps, ["bm25", "sparse"], sparse_type="sparse_vector")


def test_sparse_body_elasticsearch() -> None:
    # "prune": false keeps the score the exact dot product (pruning is on by default in 9.1+).
    clause = {"sparse_vector": {"field": "terms", "query_vector": ENCODED, "prune": False}}
    assert sparse_body(request(sparse_field="terms"), ELASTICSEARCH_95, "sparse_vector") == {
        "size": 100,
        "_source": False,
        "query": clause,
    }
    filtered = replace(FILTERED, sparse_field="terms")
    assert sparse_body(filtered, ELASTICSEARCH_95, "sparse_vector")["query"] == {
        "bool": {"must": [clause], "filter": [FILTER, FILTER_2]}
    }


@pytest.mark.parametrize(
    ("caps", "sparse_type", "usable"),
    [
        (ELASTICSEARCH_95, "rank_features", "sparse_vector"),
        (replace(ELASTICSEARCH_95, sparse_vector=False), "sparse_vector", "none"),
        # OpenSearch's detected sparse_vector is not a type Tandem searches.
        (replace(OPENSEARCH_36, rank_features=False), "rank_features", "none"),
    ],
)
def test_sparse_type_the_engine_lacks(caps: Capabilities, sparse_type: Any, usable: str) -> None:
    message = rf"cannot search a {sparse_type} field \(sparse types here: {usable}\)"
    with pytest.raises(CapabilityError, match=message):
        sparse_body(request(), caps, sparse_type)


def test_sparse_needs_terms() -> None:
    with pytest.raises(ValueError, match="needs sparse_terms"):
        sparse_body(request(sparse_terms=None), OPENSEARCH_36, "rank_features")


def test_hybrid_body_opensearch_36() -> None:
    body = hybrid_body(
        FILTERED, OPENSEARCH_36, ["bm25", "dense", "sparse"], sparse_type="rank_features"
    )
    filters = [FILTER, FILTER_2]
    assert body == {
        "size": 10,
        "_source": False,
        "query": {
            "hybrid": {
                "queries": [
                    {"bool": {"must": [MULTI_MATCH], "filter": filters}},
                    {
                        "knn": {
                            "embedding": {
                                "vector": VECTOR,
                                "k": 100,
                                "filter": {"bool": {"filter": filters}},
                            }
                        }
                    },
                    {
                        "bool": {
                            "must": [{"neural_sparse": {"sparse": {"query_tokens": ENCODED}}}],
                            "filter": filters,
                        }
                    },
                ],
                "pagination_depth": 100,
            }
        },
    }
    assert "filter" not in body["query"]["hybrid"]


def test_hybrid_body_order_follows_retrievers() -> None:
    body = hybrid_body(request(k=5, window=20), OPENSEARCH_219, ("dense", "bm25"))
    assert body == {
        "size": 5,
        "_source": False,
        "query": {
            "hybrid": {
                "queries": [
                    {"knn": {"embedding": {"vector": VECTOR, "k": 20}}},
                    MULTI_MATCH,
                ],
                "pagination_depth": 20,
            }
        },
    }


def test_hybrid_body_before_pagination_depth_asks_for_the_window() -> None:
    # 2.10-2.18: each sub-query keeps size hits per shard, so size is the window.
    old = replace(OPENSEARCH_219, version=(2, 18, 0))
    body = hybrid_body(request(k=5, window=20), old, ["dense", "bm25"])
    assert body == {
        "size": 20,
        "_source": False,
        "query": {
            "hybrid": {
                "queries": [{"knn": {"embedding": {"vector": VECTOR, "k": 20}}}, MULTI_MATCH]
            }
        },
    }


@pytest.mark.parametrize("caps", [OPENSEARCH_NO_NEURAL, ELASTICSEARCH_95, ELASTICSEARCH_ENTERPRISE])
def test_hybrid_unavailable(caps: Capabilities) -> None:
    with pytest.raises(CapabilityError, match=r"no hybrid query .*fuse in the sidecar"):
        hybrid_body(request(), caps, ["bm25", "dense"])


@pytest.mark.parametrize(
    ("retrievers", "message"),
    [
        (["bm25"], "two or three distinct"),
        (["bm25", "bm25"], "two or three distinct"),
        (["bm25", "splade"], "unknown retrievers"),
        ("bm25", "must be a sequence"),
        (["bm25", "sparse"], "needs sparse_type"),
    ],
)
def test_hybrid_retriever_names(retrievers: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hybrid_body(request(), OPENSEARCH_36, retrievers)


def test_pipeline_body_normalization() -> None:
    assert pipeline_body("linear", "z_score", [0.2, 0.3, 0.5], 60, caps=OPENSEARCH_36) == {
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "z_score"},
                    "combination": {
                        "technique": "arithmetic_mean",
                        "parameters": {"weights": [0.2, 0.3, 0.5]},
                    },
                }
            }
        ]
    }
    # Weights become shares; without weights the engine weighs sub-queries equally.
    shares = pipeline_body("linear", "l2", [3, 1], 60, caps=OPENSEARCH_219)
    combination = shares["phase_results_processors"][0]["normalization-processor"]["combination"]
    assert combination == {"technique": "arithmetic_mean", "parameters": {"weights": [0.75, 0.25]}}
    assert pipeline_body("linear", "min_max", None, 60, caps=OPENSEARCH_219) == {
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {"technique": "arithmetic_mean"},
                }
            }
        ]
    }


def test_pipeline_body_rrf() -> None:
    expected = {
        "phase_results_processors": [
            {"score-ranker-processor": {"combination": {"technique": "rrf", "rank_constant": 60}}}
        ]
    }
    assert pipeline_body("rrf", None, None, 60, caps=OPENSEARCH_219) == expected
    assert pipeline_body("rrf", "z_score", None, 60, caps=OPENSEARCH_219) == expected
    weighted = pipeline_body("rrf", None, [1, 1], 20, caps=OPENSEARCH_36)
    assert weighted["phase_results_processors"][0]["score-ranker-processor"] == {
        "combination": {
            "technique": "rrf",
            "rank_constant": 20,
            "parameters": {"weights": [0.5, 0.5]},
        }
    }


@pytest.mark.parametrize(
    ("args", "caps", "message"),
    [
        (("linear", "z_score", None, 60), OPENSEARCH_219, "no z_score normalization"),
        (("linear", "min_max", None, 60), OPENSEARCH_NO_NEURAL, "no min_max normalization"),
        (("rrf", None, None, 60), OPENSEARCH_NO_NEURAL, "no RRF score-ranker-processor"),
        (("rrf", None, [0.5, 0.5], 60), OPENSEARCH_219, r"RRF weights \(OpenSearch 3.1\+\)"),
        (("rrf", None, None, 60), ELASTICSEARCH_ENTERPRISE, "search pipelines are OpenSearch's"),
    ],
)
def test_pipeline_body_refused(args: Any, caps: Capabilities, message: str) -> None:
    with pytest.raises(CapabilityError, match=message):
        pipeline_body(*args, caps=caps)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("mean", "min_max", None, 60), "unknown fusion method"),
        (("linear", "softmax", None, 60), "unknown normalization"),
        (("linear", None, None, 60), "unknown normalization"),
        (("rrf", None, None, 0), "rank_constant must be an integer >= 1"),
        (("rrf", None, None, 60.5), "rank_constant must be an integer >= 1"),
        (("linear", "l2", [0, 0], 60), "not all 0"),
        (("linear", "l2", [1, -1], 60), "finite, >= 0"),
        (("linear", "l2", [], 60), "non-empty sequence"),
    ],
)
def test_pipeline_arguments(args: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pipeline_body(*args, caps=OPENSEARCH_36)


def test_retriever_body_needs_a_licence() -> None:
    with pytest.raises(CapabilityError, match=r"licence basic\) has no 'rrf' retriever"):
        retriever_body(request(), ELASTICSEARCH_95, ["bm25", "dense"])
    with pytest.raises(CapabilityError, match="retrievers are Elasticsearch's"):
        retriever_body(request(), OPENSEARCH_36, ["bm25", "dense"])
    rrf_only = replace(ELASTICSEARCH_ENTERPRISE, retrievers=("rrf",))
    with pytest.raises(CapabilityError, match="no 'linear' retriever"):
        retriever_body(request(), rrf_only, ["bm25", "dense"], method="linear")


def test_retriever_body_rrf() -> None:
    req = replace(FILTERED, k=10, window=50)
    body = retriever_body(
        req, ELASTICSEARCH_ENTERPRISE, ["bm25", "dense", "sparse"], sparse_type="sparse_vector"
    )
    filters = [FILTER, FILTER_2]
    assert body == {
        "size": 10,
        "_source": False,
        "retriever": {
            "rrf": {
                "retrievers": [
                    {"standard": {"query": {"bool": {"must": [MULTI_MATCH], "filter": filters}}}},
                    {
                        "knn": {
                            "field": "embedding",
                            "query_vector": VECTOR,
                            "k": 50,
                            "num_candidates": 100,
                            "filter": filters,
                        }
                    },
                    {
                        "standard": {
                            "query": {
                                "bool": {
                                    "must": [
                                        {
                                            "sparse_vector": {
                                                "field": "sparse",
                                                "query_vector": ENCODED,
                                                "prune": False,
                                            }
                                        }
                                    ],
                                    "filter": filters,
                                }
                            }
                        }
                    },
                ],
                "rank_window_size": 50,
                "rank_constant": 60,
            }
        },
    }


def test_retriever_body_weighted_rrf() -> None:
    body = retriever_body(
        request(), ELASTICSEARCH_ENTERPRISE, ["dense", "bm25"], weights=[2, 1], rank_constant=20
    )
    assert body["retriever"] == {
        "rrf": {
            "retrievers": [
                {
                    "retriever": {
                        "knn": {
                            "field": "embedding",
                            "query_vector": VECTOR,
                            "k": 100,
                            "num_candidates": 200,
                        }
                    },
                    "weight": 2.0,
                },
                {"retriever": {"standard": {"query": MULTI_MATCH}}, "weight": 1.0},
            ],
            "rank_window_size": 100,
            "rank_constant": 20,
        }
    }
    old = replace(ELASTICSEARCH_ENTERPRISE, version=(9, 1, 0))
    with pytest.raises(CapabilityError, match=r"weighted rrf retriever \(Elasticsearch 9.2\+\)"):
        retriever_body(request(), old, ["dense", "bm25"], weights=[2, 1])


def test_retriever_body_linear() -> None:
    body = retriever_body(
        request(),
        ELASTICSEARCH_ENTERPRISE,
        ["bm25", "sparse"],
        method="linear",
        normalization="l2",
        weights=[3, 1],
        sparse_type="rank_features",
    )
    assert body == {
        "size": 10,
        "_source": False,
        "retriever": {
            "linear": {
                "retrievers": [
                    {
                        "retriever": {"standard": {"query": MULTI_MATCH}},
                        "weight": 0.75,
                        "normalizer": "l2_norm",
                    },
                    {
                        "retriever": {"standard": {"query": RANK_FEATURES}},
                        "weight": 0.25,
                        "normalizer": "l2_norm",
                    },
                ],
                "rank_window_size": 100,
            }
        },
    }
    equal = retriever_body(request(), ELASTICSEARCH_ENTERPRISE, ["bm25", "dense"], method="linear")
    components = equal["retriever"]["linear"]["retrievers"]
    assert [(c["weight"], c["normalizer"]) for c in components] == [(0.5, "minmax")] * 2


@pytest.mark.parametrize(
    ("caps", "normalization", "message"),
    [
        (ELASTICSEARCH_ENTERPRISE, "z_score", "no z_score normalizer"),
        (replace(ELASTICSEARCH_ENTERPRISE, version=(9, 0, 0)), "l2", "no l2_norm normalizer"),
    ],
)
def test_retriever_body_linear_refused(
    caps: Capabilities, normalization: str, message: str
) -> None:
    with pytest.raises(CapabilityError, match=message):
        retriever_body(
            request(), caps, ["bm25", "dense"], method="linear", normalization=normalization
        )


def test_retriever_body_weights_must_match() -> None:
    with pytest.raises(ValueError, match="got 3 weights for 2 retrievers"):
        retriever_body(request(), ELASTICSEARCH_ENTERPRISE, ["bm25", "dense"], weights=[1, 1, 1])


def _count(node: Any, wanted: Any) -> int:
    found = int(node == wanted)
    if isinstance(node, dict):
        return found + sum(_count(v, wanted) for v in node.values())
    if isinstance(node, list):
        return found + sum(_count(v, wanted) for v in node)
    return found


def _sub_queries(body: dict[str, Any]) -> list[Any]:
    if "query" in body and "hybrid" in body["query"]:
        return list(body["query"]["hybrid"]["queries"])
    (fusion,) = body["retriever"].values()
    return list(fusion["retrievers"])


@pytest.mark.parametrize(
    "build",
    [
        lambda req: hybrid_body(
            req, OPENSEARCH_36, ["bm25", "dense", "sparse"], sparse_type="rank_features"
        ),
        lambda req: retriever_body(
            req, ELASTICSEARCH_ENTERPRISE, ["bm25", "dense", "sparse"], sparse_type="sparse_vector"
        ),
        lambda req: retriever_body(
            req,
            ELASTICSEARCH_ENTERPRISE,
            ["sparse", "dense"],
            method="linear",
            sparse_type="rank_features",
        ),
    ],
    ids=["hybrid", "rrf", "linear"],
)
def test_filters_in_every_sub_query(build: Any) -> None:
    body = build(FILTERED)
    subs = _sub_queries(body)
    assert len(subs) >= 2
    for sub in subs:
        assert _count(sub, FILTER) == 1
        assert _count(sub, FILTER_2) == 1
    assert _count(body, FILTER) == len(subs)


def test_bodies_never_share_or_alias_the_request() -> None:
    filters: tuple[dict[str, Any], ...] = ({"terms": {"tags": ["a", "b"]}},)
    req = request(filters=filters)
    body = hybrid_body(req, OPENSEARCH_36, ["bm25", "dense"])
    bm25, knn = body["query"]["hybrid"]["queries"]
    bm25["bool"]["filter"][0]["terms"]["tags"].append("c")
    assert knn["knn"]["embedding"]["filter"]["bool"]["filter"][0] == {"terms": {"tags": ["a", "b"]}}
    assert req.filters[0] == {"terms": {"tags": ["a", "b"]}}
    body["query"]["hybrid"]["queries"][1]["knn"]["embedding"]["vector"][0] = 9.0
    assert req.vector is not None and req.vector[0] == 0.25


HOSTILE = (
    'x" } }, "match_all": { "boost": 9 } } {"query": {"match_all": {}}}'
    " \\u0022 'single' {{braces}} \\\" \n\t ]]> <script> %2E ${env}"
)


@pytest.mark.parametrize("caps", [OPENSEARCH_36, ELASTICSEARCH_ENTERPRISE])
def test_user_text_stays_a_verbatim_string(caps: Capabilities) -> None:
    req = request(text=HOSTILE, filters=(FILTER,))
    bodies = [bm25_body(req, caps)]
    if caps.kind is EngineKind.OPENSEARCH:
        bodies.append(hybrid_body(req, caps, ["bm25", "dense"]))
    else:
        bodies.append(retriever_body(req, caps, ["bm25", "dense"]))
    for body in bodies:
        wire = json.loads(json.dumps(body))
        assert wire == body
        assert _count(wire, HOSTILE) == 1
        assert "match_all" not in json.dumps(_keys(wire))
    assert bodies[0]["query"]["bool"]["must"][0]["multi_match"]["query"] == HOSTILE


def _keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in (key, *_keys(value))]
    if isinstance(node, list):
        return [k for item in node for k in _keys(item)]
    return []


def test_term_names_are_encoded_where_names_are_keys() -> None:
    req = request(sparse_terms={"a.b": 1.0, "a%2Eb": 2.0})
    tokens = sparse_body(req, OPENSEARCH_36, "rank_features")["query"]["neural_sparse"]["sparse"]
    # Two different tokens stay two different names, neither with a raw '.'.
    assert tokens["query_tokens"] == {"a%2Eb": 1.0, "a%252Eb": 2.0}
    fields = [
        clause["rank_feature"]["field"]
        for clause in sparse_body(req, OPENSEARCH_NO_NEURAL, "rank_features")["query"]["bool"][
            "should"
        ]
    ]
    assert fields == ["sparse.a%2Eb", "sparse.a%252Eb"]
    vector = sparse_body(req, ELASTICSEARCH_95, "sparse_vector")["query"]["sparse_vector"]
    assert vector["query_vector"] == {"a%2Eb": 1.0, "a%252Eb": 2.0}

"""The HTTP face's pure parts: JSON to SearchRequest, errors to HTTP, answers to JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tandem.plugin.engines.errors import EngineOverloaded, IndexNotFound
from tandem.plugin.server.batcher import QueueFull
from tandem.plugin.server.errors import DeadlineExceeded, InvalidRequest, NotReady, TooLarge
from tandem.plugin.server.http.bodies import texts
from tandem.plugin.server.http.problems import HttpProblem, problem_for
from tandem.plugin.server.http.search import search_answer, search_request
from tandem.v1 import common_pb2, search_pb2

pytestmark = pytest.mark.unit


def test_search_json_becomes_the_grpc_message() -> None:
    request = search_request(
        {
            "index": "docs",
            "query": "solar wind",
            "k": 5,
            "from": 10,
            "method": "LINEAR",
            "normalization": "z_score",
            "weights": {"bm25": 1, "dense": 0.5},
            "filters": [{"term": {"year": 2020}}],
            "mode": "native",
            "document_fields": ["title"],
            "explain": True,
        }
    )
    assert (request.index, request.query, request.k, getattr(request, "from")) == (
        "docs",
        "solar wind",
        5,
        10,
    )
    assert request.method == search_pb2.SEARCH_METHOD_LINEAR
    assert request.normalization == search_pb2.NORMALIZATION_Z_SCORE
    assert request.mode == search_pb2.FUSION_MODE_NATIVE
    assert dict(request.weights) == {"bm25": 1.0, "dense": 0.5}
    assert [json.loads(f) for f in request.filters_json] == [{"term": {"year": 2020}}]
    assert list(request.document_fields) == ["title"] and request.explain


def test_the_tandem_clause_travels_as_query_dsl_json() -> None:
    dsl = {"bool": {"must": [{"tandem": {"query": "x"}}]}}
    request = search_request({"index": "docs", "query_dsl": dsl})
    assert json.loads(request.query_dsl_json) == dsl
    assert request.method == search_pb2.SEARCH_METHOD_UNSPECIFIED  # the defaults stay unset


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"k": -1}, "k must be in 0.."),
        ({"k": 2.5}, "k must be a whole number"),
        ({"k": True}, "k must be a whole number"),
        ({"method": "magic"}, "method must be one of bm25"),
        ({"weights": {"bm25": "high"}}, "weights.bm25 must be a number"),
        ({"weights": [1]}, "weights must be an object"),
        ({"filters": {"term": {}}}, "filters must be an array"),
        ({"filters": ["{}"]}, "filters[0] must be a query object"),
        ({"query_dsl": "tandem"}, "query_dsl must be a query object"),
        ({"fields": "title"}, "fields must be an array of strings"),
        ({"explain": "yes"}, "explain must be true or false"),
    ],
)
def test_wrong_types_are_refused_by_name(body: dict[str, Any], words: str) -> None:
    with pytest.raises(HttpProblem, match=words.replace("[", r"\[").replace(".", r"\.")) as err:
        search_request({"index": "docs", "query": "q", **body})
    assert (err.value.http, err.value.status) == (400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("error", "http", "status"),
    [
        (InvalidRequest("bad"), 400, "INVALID_ARGUMENT"),
        (QueueFull("full"), 429, "RESOURCE_EXHAUSTED"),
        (EngineOverloaded("busy"), 429, "RESOURCE_EXHAUSTED"),
        (TooLarge("big"), 413, "RESOURCE_EXHAUSTED"),
        (IndexNotFound("gone"), 404, "NOT_FOUND"),
        (NotReady("loading"), 503, "UNAVAILABLE"),
        (DeadlineExceeded("slow"), 504, "DEADLINE_EXCEEDED"),
        (KeyError("bug"), 500, "INTERNAL"),
    ],
)
def test_errors_follow_the_grpc_table(error: Exception, http: int, status: str) -> None:
    problem = problem_for(error, "HTTP /embed")
    assert (problem.http, problem.status) == (http, status)
    if status == "INTERNAL":  # no internals in the message, a pointer to the log
        assert "see the sidecar's log" in problem.message and "bug" not in problem.message


def test_texts_take_one_string_or_a_list() -> None:
    assert texts({"inputs": "a"}, "inputs") == (["a"], True)
    assert texts({"inputs": ["a", "b"]}, "inputs") == (["a", "b"], False)
    for body, words in [
        ({}, "inputs is missing"),
        ({"inputs": []}, "got an empty array"),
        ({"inputs": ["a", 3]}, "inputs[1] must be a string, got a number (token ids"),
        ({"inputs": " "}, "inputs is empty"),
        ({"inputs": {"a": 1}}, "got an object"),
    ]:
        with pytest.raises(HttpProblem) as err:
            texts(body, "inputs")
        assert words in err.value.message


def test_the_answer_has_the_cli_envelope() -> None:
    request = search_request({"index": "docs", "query": "q", "from": 3, "method": "bm25"})
    response = search_pb2.SearchResponse(
        hits=[
            search_pb2.Hit(
                id="d1",
                score=0.1,
                retrievers=[search_pb2.RetrieverScore(retriever="bm25", rank=1, score=2.5)],
                document_json='{"title": "T"}',
            )
        ],
        metadata=common_pb2.ResponseMetadata(
            tokens=3, queue_ms=1.0, inference_ms=2.0, engine_ms=4.0, total_ms=9.0
        ),
        mode="sidecar",
    )
    answer = search_answer(request, response)
    assert answer["hits"] == [
        {
            "rank": 4,
            "id": "d1",
            "score": 0.1,
            "retrievers": {"bm25": {"rank": 1, "score": 2.5}},
            "document": {"title": "T"},
        }
    ]
    assert answer["timings"] == {"encode_ms": 3.0, "engine_ms": 4.0, "total_ms": 9.0, "tokens": 3}
    assert (answer["method"], answer["mode"], answer["partial"]) == ("bm25", "sidecar", False)

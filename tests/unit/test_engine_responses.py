"""Shared response parsing, error mapping, and the exact requests the adapters send.

Bulk, mget and msearch responses were recorded from OpenSearch 3.6.0 and
Elasticsearch 9.5.4; client exceptions are the clients' real classes built by hand.
The shard failures come from a search over an alias of two indices where one maps
``year`` as an integer and the other as a keyword, filtered by a ``prefix`` on ``year``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import elastic_transport
import elasticsearch
import opensearchpy.exceptions as os_errors
import pytest

from tandem.plugin.engines import elasticsearch as es_adapter
from tandem.plugin.engines import opensearch as os_adapter
from tandem.plugin.engines.base import BulkItemResult, Capabilities, Completeness
from tandem.plugin.engines.errors import (
    EngineAuthError,
    EngineBadRequest,
    EngineOverloaded,
    EngineRequestError,
    EngineServerError,
    EngineUnavailable,
    IndexNotFound,
)
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.engines.responses import (
    bulk_results,
    chunked,
    completeness,
    engine_errors,
    error_from_body,
    found_ids,
    msearch_lines,
    msearch_responses,
    split_auth,
)

URL = "http://u:***@localhost:9200"

OPENSEARCH_BULK = {
    "took": 62,
    "errors": True,
    "items": [
        {"index": {"_index": "rec", "_id": "1", "_version": 1, "result": "created",
                   "_seq_no": 0, "_primary_term": 1, "status": 201}},
        {"create": {"_index": "rec", "_id": "2", "status": 400, "error": {
            "type": "mapper_parsing_exception",
            "reason": "failed to parse field [n] of type [integer] in document with id '2'. "
                      "Preview of field's value: 'abc'",
            "caused_by": {"type": "number_format_exception",
                          "reason": 'For input string: "abc"'}}}},
        {"delete": {"_index": "rec", "_id": "9", "_version": 1, "result": "not_found",
                    "_seq_no": 1, "_primary_term": 1, "status": 404}},
    ],
}  # fmt: skip

ELASTICSEARCH_BULK_ERROR = {
    "create": {
        "_index": "rec",
        "_id": "2",
        "status": 400,
        "error": {
            "type": "document_parsing_exception",
            "reason": "[1:6] failed to parse field [n] of type [integer] in document with id "
            "'2'. Preview of field's value: 'abc'",
        },
    }
}

INDEX_NOT_FOUND = {
    "root_cause": [{"type": "index_not_found_exception", "reason": "no such index [nope]"}],
    "type": "index_not_found_exception",
    "reason": "no such index [nope]",
    "index": "nope",
}

REJECTED = {"error": {"type": "es_rejected_execution_exception", "reason": "rejected"}}

OPENSEARCH_SHARD_FAILURE = {
    "took": 12,
    "timed_out": False,
    "_shards": {"total": 2, "successful": 1, "skipped": 0, "failed": 1, "failures": [
        {"shard": 0, "index": "rec-a", "node": "M4GMQMHaSxmMBMZDIidFQQ", "reason": {
            "type": "query_shard_exception",
            "reason": "Can only use prefix queries on keyword and text fields - not on [year] "
                      "which is of type [integer]",
            "index": "rec-a", "index_uuid": "MxqI4RKfSoKBzFgkuLL-fg"}}]},
    "hits": {"total": {"value": 150, "relation": "eq"}, "max_score": 0.00075568666, "hits": [
        {"_index": "rec-b", "_id": "rec-b-0", "_score": 0.00075568666}]},
    "status": 200,
}  # fmt: skip
ELASTICSEARCH_SHARD_FAILURE = {
    "took": 12,
    "timed_out": False,
    "_shards": {"total": 2, "successful": 1, "skipped": 0, "failed": 1, "failures": [
        {"shard": 0, "index": "rec-a", "node": "XXkCcpcBRTe1MHrJiyaqZg", "reason": {
            "type": "query_shard_exception",
            "reason": "Can only use prefix queries on keyword, text and wildcard fields - not "
                      "on [year] which is of type [integer]",
            "index_uuid": "in3bZFaDSIyzavEUxoDn3w", "index": "rec-a"}}]},
    "hits": {"total": {"value": 150, "relation": "eq"}, "max_score": 0.0016625107, "hits": [
        {"_index": "rec-b", "_id": "rec-b-0", "_score": 0.0016625107}]},
    "status": 200,
}  # fmt: skip
# OpenSearch 3.6.0: a slow filter under "timeout": "1ms" (an _msearch item).
OPENSEARCH_TIMED_OUT = {
    "took": 89,
    "timed_out": True,
    "_shards": {"total": 2, "successful": 2, "skipped": 0, "failed": 0},
    "hits": {"total": {"value": 400, "relation": "eq"}, "max_score": 0.0011551351, "hits": [
        {"_index": "rec-to", "_id": "d2", "_score": 0.0011551351}]},
    "status": 200,
}  # fmt: skip


def test_bulk_results_opensearch() -> None:
    assert bulk_results(OPENSEARCH_BULK) == [
        BulkItemResult("1", 201),
        BulkItemResult(
            "2",
            400,
            "mapper_parsing_exception",
            "failed to parse field [n] of type [integer] in document with id '2'. "
            "Preview of field's value: 'abc'",
        ),
        BulkItemResult("9", 404),
    ]


def test_bulk_results_elasticsearch_and_update() -> None:
    response = {
        "errors": True,
        "items": [
            ELASTICSEARCH_BULK_ERROR,
            {"update": {"_id": "u", "status": 429, **REJECTED}},
        ],
    }
    first, second = bulk_results(response)
    assert (first.status, first.error_type, first.ok) == (400, "document_parsing_exception", False)
    assert not first.retryable
    assert (second.id, second.status, second.retryable) == ("u", 429, True)


def test_bulk_results_refuse_unknown_action() -> None:
    with pytest.raises(EngineRequestError, match="known action"):
        bulk_results({"items": [{"upsert": {"status": 200}}]})


def test_found_ids() -> None:
    response = {
        "docs": [
            {"_index": "i", "_id": "1", "_version": 1, "found": True},
            {"_index": "i", "_id": "2", "found": False},
        ]
    }
    assert found_ids(response, "ids", URL) == {"1"}


def test_found_ids_missing_index_raises() -> None:
    response = {"docs": [{"_index": "nope", "_id": "a", "error": INDEX_NOT_FOUND}]}
    with pytest.raises(IndexNotFound, match="no such index") as caught:
        found_ids(response, "looking up ids in nope", URL)
    assert caught.value.status == 404


def test_msearch_lines_and_responses() -> None:
    first = {"query": {"match": {"text": "a"}}, "size": 3}
    second = {"query": {"match_all": {}}}
    assert msearch_lines([("one", first), ("two", second)]) == [
        {"index": "one"},
        first,
        {"index": "two"},
        second,
    ]
    recorded = {
        "took": 72,
        "responses": [
            {"took": 1, "hits": {"total": {"value": 0}, "hits": []}, "status": 200},
            {"error": INDEX_NOT_FOUND, "status": 404},
        ],
    }
    ok, failed = msearch_responses(recorded, 2)
    assert ok["status"] == 200 and failed["error"]["type"] == "index_not_found_exception"
    with pytest.raises(EngineRequestError, match="answered 2 searches, 3 were sent"):
        msearch_responses(recorded, 3)


def test_completeness_of_recorded_responses() -> None:
    assert completeness(OPENSEARCH_SHARD_FAILURE) == Completeness(
        False,
        (
            "rec-a shard 0: query_shard_exception: Can only use prefix queries on keyword and "
            "text fields - not on [year] which is of type [integer]",
        ),
    )
    (failure,) = completeness(ELASTICSEARCH_SHARD_FAILURE, "bm25").shard_failures
    assert failure.startswith("bm25: rec-a shard 0: query_shard_exception: Can only use prefix")
    timed_out = completeness(OPENSEARCH_TIMED_OUT)
    assert timed_out == Completeness(True, ()) and timed_out.partial
    complete = completeness({**OPENSEARCH_TIMED_OUT, "timed_out": False})
    assert complete == Completeness() and not complete.partial


def test_completeness_without_reasons_and_merged() -> None:
    bare = {"timed_out": False, "_shards": {"total": 5, "successful": 3, "failed": 2}}
    assert completeness(bare).shard_failures == ("2 of 5 shards failed (no reason given)",)
    assert not completeness({"hits": {"hits": []}}).partial  # nothing said: nothing to report
    merged = Completeness.merge(
        [completeness(OPENSEARCH_TIMED_OUT, "dense"), completeness(bare, "bm25")]
    )
    assert merged == Completeness(True, ("bm25: 2 of 5 shards failed (no reason given)",))


def test_completeness_keeps_the_message_short() -> None:
    failures = [
        {"shard": n, "index": "big", "reason": {"type": "x", "reason": "broken"}} for n in range(30)
    ]
    response = {"_shards": {"total": 30, "failed": 30, "failures": failures}}
    found = completeness(response).shard_failures
    assert len(found) == 11 and found[-1] == "... and 20 more shard failures"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, EngineOverloaded),
        (503, EngineServerError),
        (400, EngineBadRequest),
        (404, IndexNotFound),
        (401, EngineAuthError),
        (None, EngineUnavailable),
    ],
)
def test_error_from_body(status: int | None, expected: type[EngineRequestError]) -> None:
    err = error_from_body(status, REJECTED, "bulk", URL, fallback="refused")
    assert type(err) is expected
    assert err.status == status
    assert URL in str(err)
    if status is not None:
        assert err.error_type == "es_rejected_execution_exception"
        assert f"HTTP {status}" in str(err)


def test_error_from_body_with_text_error() -> None:
    err = error_from_body(405, {"error": "Incorrect HTTP method", "status": 405}, "x", URL)
    assert "Incorrect HTTP method" in str(err) and err.error_type is None


def _os_error(status: int) -> Exception:
    classes = {400: os_errors.RequestError, 404: os_errors.NotFoundError}
    cls = classes.get(status, os_errors.TransportError)
    body = {"error": INDEX_NOT_FOUND} if status == 404 else REJECTED
    return cls(status, body["error"]["type"], body)


def _es_error(status: int) -> Exception:
    meta = elastic_transport.ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=elastic_transport.HttpHeaders(),
        duration=0.0,
        node=elastic_transport.NodeConfig("http", "localhost", 9200),
    )
    body = {"error": INDEX_NOT_FOUND} if status == 404 else REJECTED
    cls = elasticsearch.exceptions.HTTP_EXCEPTIONS.get(status, elasticsearch.ApiError)
    return cls(body["error"]["type"], meta=meta, body=body)


Translate = Callable[[Exception, str, str], EngineRequestError | None]
CLIENTS: list[tuple[Translate, Callable[[int], Exception]]] = [
    (os_adapter.translate, _os_error),
    (es_adapter.translate, _es_error),
]


@pytest.mark.parametrize(("translate", "make"), CLIENTS, ids=["opensearch", "elasticsearch"])
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, EngineOverloaded),
        (503, EngineServerError),
        (400, EngineBadRequest),
        (404, IndexNotFound),
    ],
)
def test_client_errors_by_status(
    translate: Translate,
    make: Callable[[int], Exception],
    status: int,
    expected: type[EngineRequestError],
) -> None:
    err = translate(make(status), "search in idx", URL)
    assert type(err) is expected
    assert err is not None and err.status == status


@pytest.mark.parametrize(
    ("translate", "error"),
    [
        (os_adapter.translate, os_errors.ConnectionError("N/A", "refused", OSError(111))),
        (os_adapter.translate, os_errors.ConnectionTimeout("TIMEOUT", "timed out", None)),
        (es_adapter.translate, elastic_transport.ConnectionError("Connection refused")),
        (es_adapter.translate, elastic_transport.ConnectionTimeout("timed out")),
    ],
    ids=["os-refused", "os-timeout", "es-refused", "es-timeout"],
)
def test_connection_errors_are_unavailable(translate: Translate, error: Exception) -> None:
    err = translate(error, "bulk", URL)
    assert isinstance(err, EngineUnavailable)
    assert err.status is None and err.retryable
    assert "not reachable" in str(err)


@pytest.mark.parametrize("translate", [os_adapter.translate, es_adapter.translate])
def test_other_exceptions_are_not_translated(translate: Translate) -> None:
    assert translate(KeyError("x"), "bulk", URL) is None


def test_engine_errors_reraises_translated_and_passes_others() -> None:
    with pytest.raises(EngineOverloaded) as caught, engine_errors(es_adapter.translate, "b", URL):
        raise _es_error(429)
    assert isinstance(caught.value.__cause__, elasticsearch.ApiError)
    with pytest.raises(KeyError), engine_errors(es_adapter.translate, "b", URL):
        raise KeyError("mine")


def test_split_auth() -> None:
    assert split_auth("http://localhost:9200/") == ("http://localhost:9200", None)
    # userinfo is percent-encoded in URLs: %40 is '@'
    assert split_auth("https://elastic:p%40ss@es.example:9243") == (
        "https://es.example:9243",
        ("elastic", "p@ss"),
    )
    assert split_auth("http://user@h:1") == ("http://h:1", ("user", ""))


def test_chunked() -> None:
    assert [list(c) for c in chunked(["a", "b", "c"], 2)] == [["a", "b"], ["c"]]
    assert list(chunked([], 2)) == []
    with pytest.raises(ValueError):
        list(chunked(["a"], 0))


# The exact requests: adapters over a client that records its calls.


class _Recorder:
    """Stands in for a client and its ``indices`` namespace; answers from ``replies``."""

    def __init__(self, replies: dict[str, Any]) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.replies = replies
        self.indices = self

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            reply = self.replies[name]
            return reply(kwargs) if callable(reply) else reply

        return call


class _Body:
    """elasticsearch-py responses carry their JSON in ``.body``."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def __getitem__(self, key: str) -> Any:
        return self.body[key]


def _caps(kind: EngineKind) -> Capabilities:
    return Capabilities(
        kind, (1, 0, 0), "zip", frozenset(), None, True, (), False, False, False, False, (),
        False, (),
    )  # fmt: skip


def _mget_reply(ids: list[str]) -> dict[str, Any]:
    return {"docs": [{"_id": i, "found": int(i) % 2 == 0} for i in ids]}


def test_opensearch_existing_ids_in_chunks_of_1000() -> None:
    client = _Recorder({"mget": lambda kw: _mget_reply(kw["body"]["ids"])})
    adapter = os_adapter.OpenSearchAdapter(client, URL, _caps(EngineKind.OPENSEARCH))  # type: ignore[arg-type]
    ids = [str(i) for i in range(2500)]
    assert adapter.existing_ids("idx", ids) == {str(i) for i in range(0, 2500, 2)}
    assert [len(kw["body"]["ids"]) for _, kw in client.calls] == [1000, 1000, 500]
    assert client.calls[0][1]["params"] == {"_source": "false"}
    assert client.calls[0][1]["index"] == "idx"


def test_elasticsearch_existing_ids_in_chunks_of_1000() -> None:
    client = _Recorder({"mget": lambda kw: _Body(_mget_reply(kw["ids"]))})
    adapter = es_adapter.ElasticsearchAdapter(client, URL, _caps(EngineKind.ELASTICSEARCH))  # type: ignore[arg-type]
    assert adapter.existing_ids("idx", [str(i) for i in range(1001)]) == {
        str(i) for i in range(0, 1001, 2)
    }
    assert [(len(kw["ids"]), kw["source"]) for _, kw in client.calls] == [(1000, False), (1, False)]


def test_msearch_sends_one_request() -> None:
    reply = {"responses": [{"status": 200}, {"status": 200}]}
    os_client = _Recorder({"msearch": reply})
    es_client = _Recorder({"msearch": _Body(reply)})
    searches = [("a", {"query": {"match_all": {}}}), ("b", {"size": 0})]
    lines = [{"index": "a"}, {"query": {"match_all": {}}}, {"index": "b"}, {"size": 0}]
    os_adapter.OpenSearchAdapter(os_client, URL, _caps(EngineKind.OPENSEARCH)).msearch(searches)  # type: ignore[arg-type]
    es_adapter.ElasticsearchAdapter(es_client, URL, _caps(EngineKind.ELASTICSEARCH)).msearch(  # type: ignore[arg-type]
        searches
    )
    assert os_client.calls == [("msearch", {"body": lines})]
    assert es_client.calls == [("msearch", {"searches": lines})]


def test_search_sends_the_body_as_given() -> None:
    # Native fusion's search pipeline travels in the body: no search_pipeline parameter.
    body = {"query": {"hybrid": {"queries": []}}, "search_pipeline": {"x": 1}}
    os_client = _Recorder({"search": {"hits": {"hits": []}}})
    es_client = _Recorder({"search": _Body({"hits": {"hits": []}})})
    os_adapter.OpenSearchAdapter(os_client, URL, _caps(EngineKind.OPENSEARCH)).search("a", body)  # type: ignore[arg-type]
    es_adapter.ElasticsearchAdapter(es_client, URL, _caps(EngineKind.ELASTICSEARCH)).search(  # type: ignore[arg-type]
        "a", {"size": 1}
    )
    assert os_client.calls == [("search", {"index": "a", "body": body})]
    assert es_client.calls == [("search", {"index": "a", "body": {"size": 1}})]


def test_a_preference_reaches_search_and_every_msearch_header() -> None:
    os_client = _Recorder({"search": {"hits": {"hits": []}}})
    es_client = _Recorder({"search": _Body({"hits": {"hits": []}})})
    os_adapter.OpenSearchAdapter(os_client, URL, _caps(EngineKind.OPENSEARCH)).search(  # type: ignore[arg-type]
        "a", {"size": 1}, preference="tandem-1"
    )
    es_adapter.ElasticsearchAdapter(es_client, URL, _caps(EngineKind.ELASTICSEARCH)).search(  # type: ignore[arg-type]
        "a", {"size": 1}, preference="tandem-1"
    )
    assert os_client.calls[0][1]["preference"] == es_client.calls[0][1]["preference"] == "tandem-1"
    lines = msearch_lines([("a", {"size": 1}), ("b", {"size": 2})], "tandem-1")
    assert lines[0] == {"index": "a", "preference": "tandem-1"}
    assert lines[2] == {"index": "b", "preference": "tandem-1"}
    assert msearch_lines([("a", {})])[0] == {"index": "a"}


def test_bulk_requests_and_empty_bulk() -> None:
    ops = [{"index": {"_index": "i", "_id": "1"}}, {"n": 1}]
    reply = {"items": [{"index": {"_id": "1", "status": 201}}]}
    os_client = _Recorder({"bulk": reply})
    es_client = _Recorder({"bulk": _Body(reply)})
    os_side = os_adapter.OpenSearchAdapter(os_client, URL, _caps(EngineKind.OPENSEARCH))  # type: ignore[arg-type]
    es_side = es_adapter.ElasticsearchAdapter(es_client, URL, _caps(EngineKind.ELASTICSEARCH))  # type: ignore[arg-type]
    assert os_side.bulk(ops, refresh=True) == [BulkItemResult("1", 201)]
    assert es_side.bulk(ops) == [BulkItemResult("1", 201)]
    assert os_client.calls == [("bulk", {"body": ops, "params": {"refresh": "true"}})]
    assert es_client.calls == [("bulk", {"operations": ops, "refresh": False})]
    assert os_side.bulk([]) == [] and es_side.bulk([]) == []
    assert len(os_client.calls) == 1 and len(es_client.calls) == 1


def test_delete_index_ignores_a_missing_index() -> None:
    os_client = _Recorder({"delete": {"acknowledged": True}})
    es_client = _Recorder({"delete": _Body({"acknowledged": True})})
    os_adapter.OpenSearchAdapter(os_client, URL, _caps(EngineKind.OPENSEARCH)).delete_index("gone")  # type: ignore[arg-type]
    es_adapter.ElasticsearchAdapter(es_client, URL, _caps(EngineKind.ELASTICSEARCH)).delete_index(  # type: ignore[arg-type]
        "gone"
    )
    assert os_client.calls == [
        ("delete", {"index": "gone", "params": {"ignore_unavailable": "true"}})
    ]
    assert es_client.calls == [("delete", {"index": "gone", "ignore_unavailable": True})]

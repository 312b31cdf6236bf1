"""Every request field, given a bad value, gets a clear error and the server stays healthy.

Bool fields (``normalize``, ``explain``, ``return_tokens``, ``resume``) have no
bad value; ``truncate=false`` with a too-long text is in test_sidecar_encode.
Per-document failures of the ``IndexDocuments`` stream are in test_sidecar_engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from tandem.plugin.server.embedded import EmbeddedSidecar
from tandem.v1 import (
    encode_pb2,
    encode_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

from .sidecar import start_sidecar

Code = grpc.StatusCode
MAX_TEXTS = 4
MAX_TEXT_BYTES = 2000
MAX_MESSAGE = 64 * 1024


@pytest.fixture(scope="module")
def limited() -> Iterator[EmbeddedSidecar]:
    sidecar = start_sidecar(
        max_texts=MAX_TEXTS,
        max_text_bytes=MAX_TEXT_BYTES,
        max_message_bytes=MAX_MESSAGE,
        max_queue=6,
        metrics_port=-1,
    )
    yield sidecar
    sidecar.stop()


@pytest.fixture(scope="module")
def channel(limited: EmbeddedSidecar) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(
        limited.address, options=[("grpc.max_send_message_length", 16 * MAX_MESSAGE)]
    ) as channel:
        yield channel


def dense(**fields: Any) -> encode_pb2.EncodeDenseRequest:
    return encode_pb2.EncodeDenseRequest(**{"texts": ["fine"], **fields})


def sparse(**fields: Any) -> encode_pb2.EncodeSparseRequest:
    return encode_pb2.EncodeSparseRequest(**{"texts": ["fine"], **fields})


def search(**fields: Any) -> search_pb2.SearchRequest:
    start = fields.pop("start", 0)
    request = search_pb2.SearchRequest(**{"index": "docs", "query": "fine", **fields})
    setattr(request, "from", start)
    return request


TOO_LONG = "x" * (MAX_TEXT_BYTES + 1)
ENCODE_CASES = [
    ("texts empty", dense(texts=[]), Code.INVALID_ARGUMENT, "texts is empty"),
    ("texts blank", dense(texts=["ok", "  "]), Code.INVALID_ARGUMENT, "texts[1] is empty"),
    ("texts too many", dense(texts=["a"] * 5), Code.INVALID_ARGUMENT, "the limit is 4"),
    ("text too big", dense(texts=[TOO_LONG]), Code.RESOURCE_EXHAUSTED, "2,000 bytes"),
    ("kind unknown", dense(kind=99), Code.INVALID_ARGUMENT, "kind: unknown value 99"),
    ("message too big", dense(texts=["y" * (MAX_MESSAGE + 10)]), Code.RESOURCE_EXHAUSTED, ""),
    ("sparse texts empty", sparse(texts=[]), Code.INVALID_ARGUMENT, "texts is empty"),
    ("sparse text blank", sparse(texts=[""]), Code.INVALID_ARGUMENT, "texts[0] is empty"),
    ("sparse too many", sparse(texts=["a"] * 5), Code.INVALID_ARGUMENT, "the limit is 4"),
    ("sparse too big", sparse(texts=[TOO_LONG]), Code.RESOURCE_EXHAUSTED, "bytes"),
    ("sparse kind", sparse(kind=7), Code.INVALID_ARGUMENT, "kind: unknown value 7"),
]


@pytest.mark.parametrize(
    "request_message, code, fragment",
    [case[1:] for case in ENCODE_CASES],
    ids=[case[0] for case in ENCODE_CASES],
)
def test_encode_fields(
    channel: grpc.Channel, request_message: Any, code: grpc.StatusCode, fragment: str
) -> None:
    stub = encode_pb2_grpc.EncodeServiceStub(channel)
    rpc = (
        stub.EncodeDense
        if isinstance(request_message, encode_pb2.EncodeDenseRequest)
        else stub.EncodeSparse
    )
    with pytest.raises(grpc.RpcError) as err:
        rpc(request_message, timeout=30)
    assert err.value.code() is code
    assert fragment in (err.value.details() or "")


SEARCH_CASES = [
    ("index empty", search(index=""), "index is empty"),
    ("query empty", search(query="   "), "query is empty"),
    ("k too large", search(k=20_000), "at most 10000"),
    ("from too large", search(start=9_995), "from + k is 10005"),
    ("fields blank", search(fields=["title", ""]), "fields[1] is empty"),
    ("method unknown", search(method=42), "method: unknown value 42"),
    ("normalization unknown", search(normalization=9), "normalization: unknown value 9"),
    ("weights unknown retriever", search(weights={"colbert": 1.0}), "unknown retriever"),
    ("weights negative", search(weights={"bm25": -1.0}), "must be finite and >= 0"),
    ("weights nan", search(weights={"dense": math.nan}), "must be finite"),
    ("window smaller than k", search(k=50, window=10), "window (10) must cover"),
    ("window too large", search(window=50_000), "window is 50000"),
    ("filters not json", search(filters_json=["{term: x"]), "filters_json[0] is not valid JSON"),
    ("filters not object", search(filters_json=["[1, 2]"]), "must be a JSON object"),
    ("filters empty", search(filters_json=["{}"]), "filters[0] is an empty object"),
    (
        "filters with a script",
        search(filters_json=['{"bool": {"filter": [{"script": {"script": "1"}}]}}']),
        "filters[0].bool.filter[0].script: script queries run scripts",
    ),
    (
        "query dsl nested too deeply",
        search(query="", query_dsl_json="[" * 20_000 + "]" * 20_000),
        "query_dsl_json is nested too deeply",
    ),
    (
        "filters nested too deeply",
        search(filters_json=['{"a":' * 10_000 + "1" + "}" * 10_000]),
        "filters_json[0] is nested too deeply",
    ),
    (
        "query dsl with a script",
        search(
            query="",
            query_dsl_json='{"bool": {"must": [{"tandem": {"query": "x"}}], '
            '"filter": [{"script_score": {}}]}}',
        ),
        "query.bool.filter[0].script_score:",
    ),
    (
        "filters with a script in a knn filter",
        search(
            filters_json=[
                '{"knn": {"embedding": {"vector": [0.5, 0.5], "k": 3, '
                '"filter": {"bool": {"filter": [{"script": {"script": "1"}}]}}}}}'
            ]
        ),
        "filters[0].knn.embedding.filter.bool.filter[0].script: script queries run scripts",
    ),
    (
        "filters with a terms lookup",
        search(filters_json=['{"terms": {"tags": {"index": "other", "id": "1", "path": "t"}}}']),
        "filters[0].terms.tags: a terms lookup reads the terms from a stored document",
    ),
    (
        "filters with a tandem clause",
        search(filters_json=['{"bool": {"must": [{"tandem": {"query": "x"}}]}}']),
        "filters[0].bool.must[0].tandem: a tandem clause cannot be a filter",
    ),
    (
        "query dsl with a terms lookup",
        search(
            query="",
            query_dsl_json='{"bool": {"must": [{"tandem": {"query": "x"}}], '
            '"filter": [{"terms": {"tags": {"index": "other", "id": "1", "path": "t"}}}]}}',
        ),
        "query.bool.filter[0].terms.tags:",
    ),
    ("dense_field blank", search(dense_field=" "), "dense_field is blank"),
    ("sparse_field blank", search(sparse_field="\t"), "sparse_field is blank"),
]


@pytest.mark.parametrize(
    "request_message, fragment",
    [case[1:] for case in SEARCH_CASES],
    ids=[case[0] for case in SEARCH_CASES],
)
@pytest.mark.parametrize("service", ["Search", "Rewrite"])
def test_search_and_rewrite_fields(
    channel: grpc.Channel, request_message: Any, fragment: str, service: str
) -> None:
    rpc = (
        search_pb2_grpc.SearchServiceStub(channel).Search
        if service == "Search"
        else search_pb2_grpc.RewriteServiceStub(channel).Rewrite
    )
    with pytest.raises(grpc.RpcError) as err:
        rpc(request_message, timeout=30)
    assert err.value.code() is Code.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


INDEX_CASES = [
    ("spec not json", '{"name": ', "spec_json is not valid JSON"),
    ("spec not object", '["docs"]', "spec_json must be a JSON object"),
    ("spec unknown key", '{"name": "docs", "mapping": {}}', "unknown key 'mapping'"),
    ("spec bad name", '{"name": "Docs!", "fields": []}', "name"),
    (
        "spec wrong dims",
        '{"name": "docs", "fields": [{"name": "v", "type": "dense", "dims": 3}, '
        '{"name": "text", "type": "text"}]}',
        "384",
    ),
    (
        "spec unknown field type",
        '{"name": "docs", "fields": [{"name": "t", "type": "blob"}]}',
        "unknown field type 'blob'",
    ),
]


@pytest.mark.parametrize(
    "spec, fragment", [case[1:] for case in INDEX_CASES], ids=[case[0] for case in INDEX_CASES]
)
def test_create_index_spec(channel: grpc.Channel, spec: str, fragment: str) -> None:
    stub = index_pb2_grpc.IndexServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateIndex(index_pb2.CreateIndexRequest(spec_json=spec), timeout=30)
    assert err.value.code() is Code.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


@pytest.mark.parametrize(
    "index, fragment", [("", "index is empty"), ("logs-*", "wildcards")], ids=["empty", "wildcard"]
)
def test_delete_index_name(channel: grpc.Channel, index: str, fragment: str) -> None:
    stub = index_pb2_grpc.IndexServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.DeleteIndex(index_pb2.DeleteIndexRequest(index=index), timeout=30)
    assert err.value.code() is Code.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


DOC = index_pb2.IndexDocumentsRequest(document=index_pb2.Document(id="1", text={"text": "x"}))
STREAM_CASES = [
    ("no messages", [], "first message must be a header"),
    ("document first", [DOC], "first message must be a header"),
    (
        "header index empty",
        [index_pb2.IndexDocumentsRequest(header=index_pb2.IndexHeader(index=""))],
        "header.index is empty",
    ),
]


@pytest.mark.parametrize(
    "messages, fragment",
    [case[1:] for case in STREAM_CASES],
    ids=[case[0] for case in STREAM_CASES],
)
def test_index_documents_stream(channel: grpc.Channel, messages: list[Any], fragment: str) -> None:
    stub = index_pb2_grpc.IndexServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        for _ in stub.IndexDocuments(iter(messages), timeout=30):
            pass
    assert err.value.code() is Code.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


def test_a_request_over_the_queue_limit_is_resource_exhausted(channel: grpc.Channel) -> None:
    stub = encode_pb2_grpc.EncodeServiceStub(channel)
    # max_queue is 6: two concurrent requests of 4 texts cannot both wait
    calls = [stub.EncodeDense.future(dense(texts=["q"] * 4), timeout=30) for _ in range(6)]
    codes = []
    for call in calls:
        try:
            call.result()
            codes.append(Code.OK)
        except grpc.RpcError as err:
            codes.append(err.code())
    assert Code.RESOURCE_EXHAUSTED in codes
    assert Code.OK in codes
    assert set(codes) <= {Code.OK, Code.RESOURCE_EXHAUSTED}


def test_the_server_stays_healthy_after_bad_input(limited: EmbeddedSidecar) -> None:
    from tandem.client import TandemClient

    with TandemClient(limited.address) as client:
        assert client.health("tandem.v1.EncodeService") == "SERVING"
        assert client.encode_dense(["still fine"]).vectors.shape == (1, 384)

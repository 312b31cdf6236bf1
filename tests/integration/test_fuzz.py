"""Property-based fuzzing of every RPC's request messages: never INTERNAL, server stays healthy.

Search is fuzzed twice: with random index names (validation), and against an index that
holds documents, so fusion, pagination, filters and explain run; there every accepted
query must also answer within its deadline. The HTTP face's routes are fuzzed the same
way, with raw bodies besides. CI runs 100 cases per RPC and route; the fuzz job
outside CI runs thousands: ``TANDEM_FUZZ_EXAMPLES=2000 pytest tests/integration/test_fuzz.py``.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tandem.plugin.server.embedded import EmbeddedSidecar
from tandem.v1 import (
    encode_pb2,
    encode_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

from .sidecar import spec_json

EXAMPLES = int(os.environ.get("TANDEM_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Anything but these means the server did not understand its own failure.
BAD_CODES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

texts = st.lists(st.text(max_size=300), max_size=12)
kinds = st.integers(min_value=-3, max_value=5)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
json_text = st.one_of(json_values.map(json.dumps), st.text(max_size=60))
query_types = st.sampled_from(["term", "bool", "script", "range", "tandem", "match", "x"])
clauses = st.builds(
    lambda kind, body: json.dumps({kind: body}),
    query_types,
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)


def _call(rpc: Callable[..., Any], request: Any) -> None:
    try:
        rpc(request, timeout=60)
    except grpc.RpcError as err:
        assert err.code() not in BAD_CODES, f"{err.code()}: {err.details()} for {request!r}"


@pytest.fixture(scope="module")
def channel(encoding_sidecar: EmbeddedSidecar) -> Any:
    with grpc.insecure_channel(encoding_sidecar.address) as channel:
        yield channel


@FUZZ
@given(
    texts=texts, kind=kinds, truncate=st.none() | st.booleans(), normalize=st.none() | st.booleans()
)
def test_encode_dense(
    channel: Any, texts: list[str], kind: int, truncate: Any, normalize: Any
) -> None:
    request = encode_pb2.EncodeDenseRequest(
        texts=texts, kind=kind, truncate=truncate, normalize=normalize
    )
    _call(encode_pb2_grpc.EncodeServiceStub(channel).EncodeDense, request)


@FUZZ
@given(texts=texts, kind=kinds, top_k=st.integers(0, 2**32 - 1), tokens=st.booleans())
def test_encode_sparse(channel: Any, texts: list[str], kind: int, top_k: int, tokens: bool) -> None:
    request = encode_pb2.EncodeSparseRequest(
        texts=texts, kind=kind, top_k=top_k, return_tokens=tokens
    )
    _call(encode_pb2_grpc.EncodeServiceStub(channel).EncodeSparse, request)


def _search(
    index: str,
    query: str,
    k: int,
    start: int,
    fields: list[str],
    method: int,
    norm: int,
    weights: dict[str, float],
    window: int,
    rank: int,
    filters: list[str],
    dsl: str,
    mode: int,
    document_fields: list[str],
) -> tuple[search_pb2.SearchRequest, int]:
    request = search_pb2.SearchRequest(
        index=index,
        query=query,
        k=k,
        fields=fields,
        method=method,
        normalization=norm,
        weights=weights,
        window=window,
        rank_constant=rank,
        filters_json=filters,
        query_dsl_json=dsl,
        mode=mode,
        document_fields=document_fields,
    )
    return request, start


search_requests = st.builds(
    _search,
    st.text(max_size=20), st.text(max_size=60), st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1), st.lists(st.text(max_size=10), max_size=3), kinds, kinds,
    st.dictionaries(st.sampled_from(["bm25", "dense", "sparse", "x"]), st.floats(), max_size=3),
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.lists(st.one_of(clauses, json_text), max_size=3), st.one_of(st.just(""), clauses, json_text),
    kinds, st.lists(st.text(max_size=10), max_size=3),
)  # fmt: skip


@FUZZ
@given(pair=search_requests)
def test_search_and_rewrite(engine_sidecar: EmbeddedSidecar, pair: Any) -> None:
    request, start = pair
    setattr(request, "from", start)
    with grpc.insecure_channel(engine_sidecar.address) as channel:
        _call(search_pb2_grpc.SearchServiceStub(channel).Search, request)
        _call(search_pb2_grpc.RewriteServiceStub(channel).Rewrite, request)


WORDS = ["heart", "attack", "vitamin", "cancer", "solar", "wind", "power", "the", "of", "zzz"]
STORED = [
    {"_id": f"d{i}", "title": f"{WORDS[i % 7]} {WORDS[(i * 3) % 9]}", "text": " ".join(
        WORDS[(i + j) % len(WORDS)] for j in range(8)), "year": 1990 + i % 30}
    for i in range(40)
]  # fmt: skip
YEAR_FILTER = {"range": {"year": {"gte": 1995}}}
DEADLINE = 20.0  # seconds: an accepted query answers well within this on two cores
known_filters = st.sampled_from(
    [
        '{"range": {"year": {"gte": 2000}}}',
        '{"term": {"year": 1995}}',
        '{"bool": {"must_not": [{"term": {"year": 1991}}]}}',
        '{"match": {"title": "heart"}}',
        '{"exists": {"field": "year"}}',
    ]
)
stored_searches = st.builds(
    _search,
    st.just(""),  # set per engine by the test
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=5).map(" ".join) | st.text(max_size=30),
    st.integers(0, 60), st.integers(0, 60),
    st.lists(st.sampled_from(["title", "text", "year", "nope"]), max_size=2),
    st.integers(0, 5), st.integers(0, 3),
    st.dictionaries(st.sampled_from(["bm25", "dense", "sparse"]), st.floats(0, 5), max_size=3),
    st.integers(0, 300), st.integers(0, 100),
    st.lists(st.one_of(known_filters, clauses), max_size=2),
    st.one_of(
        st.just(""),
        st.builds(
            lambda text, slot: json.dumps(
                {"bool": {slot: [{"tandem": {"query": text}}], "filter": [YEAR_FILTER]}}
            ),
            st.sampled_from(WORDS), st.sampled_from(["must", "should"]),
        ),
    ),
    st.integers(0, 3),
    st.lists(st.sampled_from(["title", "text", "year", "nope", "t*", "*"]), max_size=3),
)  # fmt: skip


@pytest.fixture(scope="module")
def stored_index(engine_sidecar: EmbeddedSidecar) -> Any:
    """An index holding documents, for the searches that must get past validation."""
    from tandem.client import TandemClient

    name = f"tandem-fuzz-{os.getpid()}"
    with TandemClient(engine_sidecar.address, timeout=120) as client:
        spec = spec_json(name, year="integer")
        client.create_index(spec)
        assert client.index_documents(name, STORED).indexed == len(STORED)
        yield name
        client.delete_index(name)


@FUZZ
@given(pair=stored_searches, explain=st.booleans())
def test_search_an_index_that_holds_documents(
    engine_sidecar: EmbeddedSidecar, stored_index: str, pair: Any, explain: bool
) -> None:
    request, start = pair
    request.index = stored_index
    request.explain = explain
    setattr(request, "from", start)
    with grpc.insecure_channel(engine_sidecar.address) as channel:
        for rpc in (
            search_pb2_grpc.SearchServiceStub(channel).Search,
            search_pb2_grpc.RewriteServiceStub(channel).Rewrite,
        ):
            try:
                response = rpc(request, timeout=DEADLINE)
            except grpc.RpcError as err:
                event(f"{type(rpc).__name__}: {err.code().name}")
                assert err.code() not in BAD_CODES, f"{err.code()}: {err.details()} for {request}"
                # An accepted query answers within its deadline.
                assert err.code() is not grpc.StatusCode.DEADLINE_EXCEEDED, f"{request}"
                continue
            event("answered")
            if isinstance(response, search_pb2.SearchResponse):
                event(f"answered with {'some' if response.hits else 'no'} hits ({response.mode})")
                ids = [hit.id for hit in response.hits]
                assert len(ids) == len(set(ids)) <= (request.k or 10)
                asked = bool(request.document_fields)
                assert all(bool(hit.document_json) is asked for hit in response.hits)


@FUZZ
@given(spec=json_text, name=st.text(max_size=30))
def test_create_and_delete_index(engine_sidecar: EmbeddedSidecar, spec: str, name: str) -> None:
    with grpc.insecure_channel(engine_sidecar.address) as channel:
        stub = index_pb2_grpc.IndexServiceStub(channel)
        _call(stub.CreateIndex, index_pb2.CreateIndexRequest(spec_json=spec))
        _call(stub.DeleteIndex, index_pb2.DeleteIndexRequest(index=name))


documents = st.lists(
    st.builds(
        lambda doc_id, text, meta: index_pb2.IndexDocumentsRequest(
            document=index_pb2.Document(id=doc_id, text=text, metadata_json=meta)
        ),
        st.text(max_size=12),
        st.dictionaries(st.text(max_size=8), st.text(max_size=80), max_size=3),
        st.one_of(st.just(""), json_text),
    ),
    max_size=6,
)


@FUZZ
@given(index=st.text(max_size=20), docs=documents, header_first=st.booleans())
def test_index_documents(
    engine_sidecar: EmbeddedSidecar, index: str, docs: list[Any], header_first: bool
) -> None:
    header = index_pb2.IndexDocumentsRequest(header=index_pb2.IndexHeader(index=index))
    stream = [header, *docs] if header_first else [*docs, header]
    with grpc.insecure_channel(engine_sidecar.address) as channel:
        stub = index_pb2_grpc.IndexServiceStub(channel)
        try:
            for _ in stub.IndexDocuments(iter(stream), timeout=60):
                pass
        except grpc.RpcError as err:
            assert err.code() not in BAD_CODES, f"{err.code()}: {err.details()}"


def test_the_servers_are_healthy_after_fuzzing(
    encoding_sidecar: EmbeddedSidecar, engine_sidecar: EmbeddedSidecar
) -> None:
    from tandem.client import TandemClient

    for sidecar in (encoding_sidecar, engine_sidecar):
        with TandemClient(sidecar.address) as client:
            assert client.health("tandem.v1.EncodeService") == "SERVING"
            assert client.encode_dense(["after the fuzz"]).vectors.shape == (1, 384)


# The HTTP face: every route, with bodies built from its own fields (right and wrong
# types), arbitrary JSON, and bytes that are not JSON at all.
def _post_http(port: int, path: str, raw: bytes, content_type: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE * 3)
    try:
        connection.request("POST", path, raw, {"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _check_http(status: int, payload: Any, path: str, raw: bytes) -> None:
    event(f"{path}: HTTP {status}")
    if status == 400:
        event(f"{path}: {payload['error']['message'][:40]}")
    if status == 200:
        return
    assert set(payload) == {"error"} and payload["error"]["code"] == status, payload
    assert payload["error"]["status"] not in {"INTERNAL", "UNKNOWN"}, f"{payload} for {raw!r}"
    assert status < 500 or status in (503, 504), f"{payload} for {raw!r}"


good_inputs = st.one_of(
    st.text(min_size=1, max_size=200), st.lists(st.text(min_size=1, max_size=80), max_size=4)
)


def _fields(required: dict[str, Any], optional: dict[str, Any]) -> Any:
    """Bodies of a route's own fields: ``plain`` ones hold plausible values (most get past
    validation), ``wild`` ones any JSON value in any field."""

    def wild(values: dict[str, Any]) -> dict[str, Any]:
        return {k: st.one_of(v, json_values) for k, v in values.items()}

    return {
        "plain": st.fixed_dictionaries(required, optional=optional),
        "wild": st.fixed_dictionaries(wild(required), optional=wild(optional)),
    }


def _body(data: Any, bodies: dict[str, Any], extra: dict[str, Any]) -> tuple[bytes, str]:
    """Plain bodies three times in five, wild ones once, raw bytes once."""
    kind = data.draw(st.sampled_from(["plain", "plain", "plain", "wild", "raw"]))
    event(f"body: {kind}")
    if kind == "raw":
        raw: tuple[bytes, str] = data.draw(raw_bodies)
        return raw
    return json.dumps({**extra, **data.draw(bodies[kind])}).encode(), "application/json"


ENCODE_BODIES = {
    "/embed": _fields(
        {"inputs": good_inputs},
        {
            "normalize": st.booleans(),
            "truncate": st.booleans(),
            "truncation_direction": st.sampled_from(["right", "Right", "Left"]),
            "prompt_name": st.none() | st.text(max_size=5),
            "dimensions": st.sampled_from([384, 384, 12]),
            "input_type": st.sampled_from(["query", "document", "x"]),
        },
    ),
    "/embed_sparse": _fields(
        {"inputs": good_inputs},
        {
            "truncate": st.booleans(),
            "raw_scores": st.sampled_from([False, False, True]),
            "input_type": st.sampled_from(["query", "document"]),
        },
    ),
    "/v1/embeddings": _fields(
        {"input": good_inputs, "model": st.sampled_from(["minilm", "minilm", "ada"])},
        {
            "encoding_format": st.sampled_from(["float", "base64", "int8"]),
            "dimensions": st.sampled_from([384, 384, 3]),
            "user": st.text(max_size=5),
        },
    ),
}
raw_bodies = st.one_of(
    st.binary(max_size=200).map(lambda b: (b, "application/json")),
    json_values.map(lambda v: (json.dumps(v).encode(), "application/json")),
    st.text(max_size=40).map(lambda t: (t.encode(), "text/plain")),
)


@FUZZ
@given(path=st.sampled_from(sorted(ENCODE_BODIES)), data=st.data())
def test_http_encode_routes(encoding_sidecar: EmbeddedSidecar, path: str, data: Any) -> None:
    port = encoding_sidecar.sidecar.http_port
    assert port is not None
    raw, content_type = _body(data, ENCODE_BODIES[path], {})
    status, payload = _post_http(port, path, raw, content_type)
    _check_http(status, payload, path, raw)


SEARCH_OPTIONS = {
    "k": st.integers(-1, 60),
    "from": st.integers(0, 60),
    "fields": st.lists(st.sampled_from(["title", "text", "year", "nope"]), max_size=2),
    "method": st.sampled_from(["bm25", "dense", "sparse", "rrf", "linear", "x"]),
    "normalization": st.sampled_from(["min_max", "z_score", "l2", "x"]),
    "weights": st.dictionaries(st.sampled_from(["bm25", "dense", "x"]), st.floats(0, 5)),
    "window": st.integers(0, 300),
    "rank_constant": st.integers(0, 100),
    "filters": st.lists(known_filters.map(json.loads), max_size=2),
    "explain": st.booleans(),
    "mode": st.sampled_from(["auto", "native", "sidecar", "x"]),
    "document_fields": st.lists(st.sampled_from(["title", "*", "nope"]), max_size=2),
}
QUERY = {"query": st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join)}
DSL = {
    "query_dsl": st.sampled_from([WORDS[0], WORDS[3]]).map(
        lambda w: {"bool": {"must": [{"tandem": {"query": w}}]}}
    )
}
SEARCH_BODIES = {
    **{
        k: st.one_of(v, _fields(DSL, SEARCH_OPTIONS)[k])
        for k, v in _fields(QUERY, SEARCH_OPTIONS).items()
    }
}


@FUZZ
@given(path=st.sampled_from(["/v1/search", "/v1/rewrite"]), data=st.data())
def test_http_search_routes(
    engine_sidecar: EmbeddedSidecar, stored_index: str, path: str, data: Any
) -> None:
    port = engine_sidecar.sidecar.http_port
    assert port is not None
    raw, content_type = _body(data, SEARCH_BODIES, {"index": stored_index})
    status, payload = _post_http(port, path, raw, content_type)
    _check_http(status, payload, path, raw)
    assert status != 504, f"an accepted query answers within its deadline: {raw!r}"
    if status == 200 and path == "/v1/search":
        ids = [hit["id"] for hit in payload["hits"]]
        assert len(ids) == len(set(ids)) <= (json.loads(raw).get("k") or 10)

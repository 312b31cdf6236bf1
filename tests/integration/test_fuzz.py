"""Property-based fuzzing of every RPC's request messages: never INTERNAL, server stays healthy.

CI runs a few dozen cases per RPC; the fuzz job outside CI runs thousands:
``TANDEM_FUZZ_EXAMPLES=2000 pytest tests/integration/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
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

EXAMPLES = int(os.environ.get("TANDEM_FUZZ_EXAMPLES", "40"))
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
    )
    return request, start


search_requests = st.builds(
    _search,
    st.text(max_size=20), st.text(max_size=60), st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1), st.lists(st.text(max_size=10), max_size=3), kinds, kinds,
    st.dictionaries(st.sampled_from(["bm25", "dense", "sparse", "x"]), st.floats(), max_size=3),
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.lists(st.one_of(clauses, json_text), max_size=3), st.one_of(st.just(""), clauses, json_text),
    kinds,
)  # fmt: skip


@FUZZ
@given(pair=search_requests)
def test_search_and_rewrite(engine_sidecar: EmbeddedSidecar, pair: Any) -> None:
    request, start = pair
    setattr(request, "from", start)
    with grpc.insecure_channel(engine_sidecar.address) as channel:
        _call(search_pb2_grpc.SearchServiceStub(channel).Search, request)
        _call(search_pb2_grpc.RewriteServiceStub(channel).Rewrite, request)


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
            stub.IndexDocuments(iter(stream), timeout=60)
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

"""Encode, Info, health and reflection over a real channel to a real sidecar."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tandem.client import ClientError, TandemClient
from tandem.encoders.idf import IdfTable
from tandem.encoders.loader import load_dense, load_sparse, text_batcher
from tandem.encoders.registry import KNOWN_MODELS, InputKind
from tandem.plugin.server.embedded import EmbeddedSidecar
from tandem.v1 import common_pb2, encode_pb2, encode_pb2_grpc

from .sidecar import start_sidecar

TEXTS = [
    "Hybrid search fuses BM25 with dense vectors.",
    "SPLADE expands documents with related vocabulary terms.",
    "short",
]


@pytest.fixture(scope="module")
def local_dense():  # type: ignore[no-untyped-def]
    return load_dense(KNOWN_MODELS["minilm"])


@pytest.fixture(scope="module")
def local_sparse():  # type: ignore[no-untyped-def]
    return load_sparse(KNOWN_MODELS["splade-tiny"])


def test_health_is_serving_for_the_encoding_services(encoding_client: TandemClient) -> None:
    assert encoding_client.health() == "SERVING"
    assert encoding_client.health("tandem.v1.EncodeService") == "SERVING"
    assert encoding_client.health("tandem.v1.InfoService") == "SERVING"
    # no engine configured: what needs one says so
    assert encoding_client.health("tandem.v1.SearchService") == "NOT_SERVING"
    assert encoding_client.health("tandem.v1.IndexService") == "NOT_SERVING"


def test_reflection_lists_every_service(encoding_sidecar: EmbeddedSidecar) -> None:
    with grpc.insecure_channel(encoding_sidecar.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))
    names = {s.name for s in response.list_services_response.service}
    assert {
        "tandem.v1.InfoService",
        "tandem.v1.EncodeService",
        "tandem.v1.SearchService",
        "tandem.v1.RewriteService",
        "tandem.v1.IndexService",
        "grpc.health.v1.Health",
    } <= names


def test_info_describes_models_and_limits(encoding_client: TandemClient) -> None:
    info = encoding_client.info()
    models = {m["kind"]: m for m in info["models"]}
    assert models["dense"]["name"] == "minilm" and models["dense"]["dimensions"] == 384
    assert models["dense"]["max_length"] == 256
    assert models["sparse"]["vocabulary_size"] == 30522
    assert models["sparse"]["query_encoder"] == "splade"
    limits = info["limits"]
    assert limits["max_texts_per_request"] == 256
    assert limits["max_batch_tokens"] == 512
    assert "engines" not in info or info["engines"] == []
    assert info["version"]


def test_dense_vectors_match_the_in_process_encoder(
    encoding_client: TandemClient, local_dense: object
) -> None:
    remote = encoding_client.encode_dense(TEXTS, kind="query")
    local = local_dense.encode(TEXTS, InputKind.QUERY)  # type: ignore[attr-defined]
    assert remote.vectors.shape == (3, 384)
    cosines = np.sum(remote.vectors * local, axis=1)
    assert cosines.min() > 0.9999
    assert remote.metadata.tokens > 0
    assert remote.metadata.inference_ms > 0 and remote.metadata.total_ms > 0


def test_dense_normalize_false_returns_raw_pooled_vectors(
    encoding_client: TandemClient,
) -> None:
    raw = encoding_client.encode_dense(TEXTS[:1], normalize=False).vectors[0]
    unit = encoding_client.encode_dense(TEXTS[:1]).vectors[0]
    assert abs(float(np.linalg.norm(unit)) - 1.0) < 1e-5
    assert abs(float(np.linalg.norm(raw)) - 1.0) > 1e-3
    assert np.allclose(raw / np.linalg.norm(raw), unit, atol=1e-5)


def test_sparse_terms_match_the_in_process_encoder(
    encoding_client: TandemClient, local_sparse: object
) -> None:
    remote = encoding_client.encode_sparse(TEXTS)
    local = local_sparse.encode(TEXTS)  # type: ignore[attr-defined]
    for terms, vector in zip(remote.vectors, local, strict=True):
        assert [t.index for t in terms] == vector.ids.tolist()
        assert np.allclose([t.value for t in terms], vector.weights, atol=1e-5)
        assert [t.token for t in terms] == list(vector.tokens)


def test_sparse_top_k_normalize_and_token_strings(encoding_client: TandemClient) -> None:
    full = encoding_client.encode_sparse(TEXTS[:1]).vectors[0]
    top = encoding_client.encode_sparse(TEXTS[:1], top_k=5, tokens=False).vectors[0]
    assert [t.index for t in top] == [t.index for t in full[:5]]
    assert all(t.token is None for t in top)
    unit = encoding_client.encode_sparse(TEXTS[:1], normalize=True).vectors[0]
    assert abs(sum(t.value**2 for t in unit) - 1.0) < 1e-4


def test_streams_answer_each_message_in_order(encoding_sidecar: EmbeddedSidecar) -> None:
    batches = [[f"message {i} about retrieval"] * (i % 3 + 1) for i in range(12)]
    with grpc.insecure_channel(encoding_sidecar.address) as channel:
        stub = encode_pb2_grpc.EncodeServiceStub(channel)
        dense = list(
            stub.EncodeDenseStream(
                iter(
                    encode_pb2.EncodeDenseRequest(texts=b, kind=common_pb2.INPUT_KIND_DOCUMENT)
                    for b in batches
                ),
                timeout=60,
            )
        )
        sparse = list(
            stub.EncodeSparseStream(
                iter(encode_pb2.EncodeSparseRequest(texts=b, top_k=3) for b in batches),
                timeout=60,
            )
        )
        unary = stub.EncodeDense(encode_pb2.EncodeDenseRequest(texts=batches[7]), timeout=60)
    assert [len(r.vectors) for r in dense] == [len(b) for b in batches]
    assert [len(r.vectors) for r in sparse] == [len(b) for b in batches]
    assert np.allclose(dense[7].vectors[0].values, unary.vectors[0].values, atol=1e-5)
    assert all(len(v.values) == 3 for r in sparse for v in r.vectors)


def test_truncation_is_on_by_default_and_can_be_refused(encoding_client: TandemClient) -> None:
    long_text = "retrieval " * 600  # far past 256 and 512 tokens
    assert encoding_client.encode_dense([long_text]).vectors.shape == (1, 384)
    assert len(encoding_client.encode_sparse([long_text]).vectors) == 1
    with pytest.raises(ClientError, match=r"INVALID_ARGUMENT.*truncate is false"):
        encoding_client.encode_dense([long_text], truncate=False)
    with pytest.raises(ClientError, match=r"INVALID_ARGUMENT.*truncate is false"):
        encoding_client.encode_sparse([long_text], truncate=False)


def test_search_without_an_engine_is_unavailable_with_a_reason(
    encoding_client: TandemClient,
) -> None:
    with pytest.raises(ClientError, match=r"UNAVAILABLE.*--engine"):
        encoding_client.search("anything", "a query")


def test_an_idf_table_makes_sparse_queries_inference_free(tmp_path: Path) -> None:
    batcher = text_batcher(KNOWN_MODELS["splade-tiny"])
    corpus = ["hybrid search with sparse vectors", "dense vectors", "sparse lexical search"]
    table = IdfTable.from_corpus(batcher, corpus)
    path = tmp_path / "idf.json"
    table.save(path)
    sidecar = start_sidecar(dense="none", idf=path, metrics_port=-1)
    try:
        with TandemClient(sidecar.address) as client:
            (model,) = client.info()["models"]
            assert model["query_encoder"] == "idf"
            query = client.encode_sparse(["sparse search"], kind="query").vectors[0]
            assert {t.token: pytest.approx(t.value) for t in query} == {
                token: table.idf[token] for token in ("sparse", "search")
            }
            again = client.encode_sparse(["sparse search"], kind="query")
            assert again.metadata.inference_ms == 0  # no model run
            # documents still go through SPLADE
            document = client.encode_sparse(["sparse search"]).vectors[0]
            assert len(document) > 2
    finally:
        sidecar.stop()

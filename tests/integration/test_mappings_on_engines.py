"""Bodies from ``build_index_body`` on the real engines, and term names that survive them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.base import Capabilities
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.mapping import build_index_body, sparse_field_type, sparse_type_for
from tandem.plugin.index.spec import (
    DenseField,
    IndexSpec,
    MetadataField,
    SparseField,
    SpecError,
    TextField,
)
from tandem.plugin.index.terms import decode_term, decode_terms, encode_term, encode_terms
from tandem.plugin.ingest.assemble import ensure_index
from tandem.plugin.search.request import SearchRequest
from tandem.plugin.search.rewriter import sparse_body

DIMS = 8
TRICKY = ["a.b", "..", ".", "%", "%2E", "a.b.c", "heart", "##ing", "[CLS]", "ü", "a\\b", "_id"]
TRICKY += ["", " ", "\ud800", "\ud83d\ude00", "😀"]
# Multiples of 0.25: exact in the engines' 9-bit sparse weights.
WEIGHTS = {token: 0.25 * (i + 1) for i, token in enumerate(TRICKY)}


def capabilities_for(engine: EngineHandle) -> Capabilities:
    """What docs/engines.md records for this engine line; detection is tested on its own."""
    major, minor, patch = (int(part) for part in engine.version.split("."))
    version = (major, minor, patch)
    if engine.kind is EngineKind.ELASTICSEARCH:
        return Capabilities(
            kind=engine.kind,
            version=version,
            build_type="integ-test-zip",
            plugins=frozenset({"apm", "transport-netty4", "x-pack-core", "x-pack-security"}),
            license="basic",
            dense=True,
            knn_engines=(),
            rank_features=False,  # no mapper-extras module in the zip
            sparse_vector=True,
            neural_sparse=False,
            hybrid_query=False,
            normalization_techniques=(),
            rrf_pipeline=False,
            retrievers=(),
        )
    return Capabilities(
        kind=engine.kind,
        version=version,
        build_type="integ-test-zip",
        plugins=frozenset({"opensearch-knn", "opensearch-neural-search", "mapper-extras"}),
        license=None,
        dense=True,
        knn_engines=("lucene",),  # no native libraries: faiss kills the node
        rank_features=True,
        sparse_vector=version >= (3, 3, 0),  # detected, but not a type Tandem maps here
        neural_sparse=True,
        hybrid_query=True,
        normalization_techniques=("min_max", "l2", "z_score") if major >= 3 else ("min_max", "l2"),
        rrf_pipeline=True,
        retrievers=(),
    )


def _spec(name: str, dims: int = DIMS) -> IndexSpec:
    return IndexSpec(
        name=name,
        text_fields=(TextField("title"), TextField("body", analyzer="simple")),
        dense=DenseField("vector", dims=dims),
        sparse=SparseField("terms"),
        metadata=(
            MetadataField("category", "keyword"),
            MetadataField("year", "integer"),
            MetadataField("views", "long"),
            MetadataField("rating", "float"),
            MetadataField("public", "boolean"),
            MetadataField("published", "date"),
        ),
    )


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def _contains(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` holds everything in ``expected`` (engines add defaults)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _contains(actual[key], value) for key, value in expected.items()
        )
    return bool(actual == expected)


def _stored_source(engine: EngineHandle, client: Any, index: str, doc_id: str) -> Any:
    """The document as stored; Elasticsearch 9 keeps vectors out of ``_source`` unless asked."""
    body: dict[str, Any] = {"query": {"ids": {"values": [doc_id]}}}
    if engine.kind is EngineKind.ELASTICSEARCH:
        body["_source"] = {"exclude_vectors": False}
    hits = client.search(index=index, body=body)["hits"]["hits"]
    assert len(hits) == 1
    return hits[0]["_source"]


def _sparse_query(engine: EngineHandle, field: str, names: dict[str, float]) -> dict[str, Any]:
    if engine.kind is EngineKind.ELASTICSEARCH:
        return {"sparse_vector": {"field": field, "query_vector": names}}
    return {"neural_sparse": {field: {"query_tokens": names}}}


def _knn_query(engine: EngineHandle, vector: list[float], k: int) -> dict[str, Any]:
    if engine.kind is EngineKind.ELASTICSEARCH:
        return {
            "size": k,
            "knn": {"field": "vector", "query_vector": vector, "k": k, "num_candidates": 50},
        }
    return {"size": k, "query": {"knn": {"vector": {"vector": vector, "k": k}}}}


@pytest.fixture
def cleanup(engine_client: Any, index_name: str) -> Iterator[list[str]]:
    """Extra index names a test creates, deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        engine_client.indices.delete(index=name, ignore_unavailable=True)


def test_body_is_accepted_and_term_names_round_trip(
    engine: EngineHandle, engine_client: Any, index_name: str
) -> None:
    caps = capabilities_for(engine)
    spec = _spec(index_name)
    body = build_index_body(spec, caps, model_dims=DIMS)
    engine_client.indices.create(index=index_name, body=body)

    stored = engine_client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    for field, expected in body["mappings"]["properties"].items():
        assert _contains(stored["properties"][field], expected), (field, stored["properties"])

    vector = _unit([float(i + 1) for i in range(DIMS)])
    source = {
        "title": "Tandem mapping check",
        "body": "one document with tricky sparse terms",
        "vector": vector,
        "terms": encode_terms(WEIGHTS),
        "category": "a",
        "year": 2026,
        "views": 10**12,
        "rating": 4.5,
        "public": True,
        "published": "2026-11-23",
    }
    engine_client.index(index=index_name, id="d1", body=source, refresh=True)

    terms = _stored_source(engine, engine_client, index_name, "d1")["terms"]
    assert decode_terms(terms) == WEIGHTS

    # Every term is found again by its encoded name, with its own weight.
    for token, weight in WEIGHTS.items():
        query = _sparse_query(engine, "terms", {encode_term(token): 1.0})
        hits = engine_client.search(index=index_name, body={"query": query})["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["d1"], ascii(token)
        assert hits[0]["_score"] == pytest.approx(weight, rel=1e-3), ascii(token)

    if engine.kind is EngineKind.OPENSEARCH:
        # rank_feature addresses "field.term" and splits at the last dot: only the
        # escaped name reaches a term with a dot in it.
        for token in ("a.b", "..", "a.b.c"):
            query = {"rank_feature": {"field": f"terms.{encode_term(token)}", "linear": {}}}
            hits = engine_client.search(index=index_name, body={"query": query})["hits"]["hits"]
            assert [h["_id"] for h in hits] == ["d1"], token
            assert hits[0]["_score"] == pytest.approx(WEIGHTS[token], rel=1e-3)

    hits = engine_client.search(index=index_name, body=_knn_query(engine, vector, 1))
    assert [h["_id"] for h in hits["hits"]["hits"]] == ["d1"]


def test_every_encoded_character_survives(
    engine: EngineHandle, engine_client: Any, index_name: str
) -> None:
    caps = capabilities_for(engine)
    spec = IndexSpec(name=index_name, text_fields=(), sparse=SparseField("terms"))
    engine_client.indices.create(index=index_name, body=build_index_body(spec, caps))
    tokens = [chr(c) for c in [*range(0x250), 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFF, 0x10FFFF]]
    tokens += [t for t in TRICKY if len(t) != 1]
    weights = {token: 1.0 for token in tokens}
    engine_client.index(
        index=index_name, id="d1", body={"terms": encode_terms(weights)}, refresh=True
    )
    stored = _stored_source(engine, engine_client, index_name, "d1")["terms"]
    assert sorted(map(decode_term, stored)) == sorted(tokens)


def test_wrong_dims_fail_before_any_request(
    engine: EngineHandle, engine_client: Any, index_name: str
) -> None:
    spec = _spec(index_name, dims=512)
    with pytest.raises(SpecError, match="has 512 dims but the model minilm makes 384"):
        body = build_index_body(spec, capabilities_for(engine), 384, model_name="minilm")
        engine_client.indices.create(index=index_name, body=body)
    assert not engine_client.indices.exists(index=index_name)


def _unsupported_specs(engine: EngineHandle, name: str) -> list[IndexSpec]:
    spec = _spec(name)
    if engine.kind is EngineKind.ELASTICSEARCH:
        return [
            IndexSpec(name, spec.text_fields, sparse=SparseField("terms", type="rank_features")),
            IndexSpec(
                name, spec.text_fields, dense=DenseField("vector", DIMS, quantization="int8")
            ),
        ]
    # OpenSearch's sparse_vector (keyed by token ids, not term names), and faiss.
    sparse_vector = SparseField("terms", type="sparse_vector")
    return [
        IndexSpec(name, spec.text_fields, dense=spec.dense, sparse=sparse_vector),
        IndexSpec(name, spec.text_fields, dense=DenseField("vector", DIMS, engine="faiss")),
    ]


def test_what_the_engine_lacks_fails_before_any_request(
    engine: EngineHandle, engine_client: Any, index_name: str
) -> None:
    caps = capabilities_for(engine)
    for spec in _unsupported_specs(engine, index_name):
        with pytest.raises(CapabilityError):
            engine_client.indices.create(index=index_name, body=build_index_body(spec, caps))
        assert not engine_client.indices.exists(index=index_name)


def _dense_options(engine: EngineHandle) -> list[DenseField]:
    if engine.kind is EngineKind.ELASTICSEARCH:
        return [
            DenseField("vector", 64, similarity="dot_product", m=8, ef_construction=64),
            DenseField("vector", 64, similarity="l2", index_type="int8_hnsw"),
            DenseField("vector", 64, index_type="bbq_hnsw"),
        ]
    return [
        DenseField("vector", 64, similarity="dot_product", m=8, ef_construction=64),
        DenseField("vector", 64, similarity="l2", quantization="int8"),
        DenseField("vector", 64, engine="lucene", quantization="int8"),
    ]


def test_dense_options_are_accepted_and_searchable(
    engine: EngineHandle, engine_client: Any, index_name: str, cleanup: list[str]
) -> None:
    caps = capabilities_for(engine)
    vectors = [_unit([math.sin(d * (i + 1)) for i in range(64)]) for d in range(1, 21)]
    for n, dense in enumerate(_dense_options(engine)):
        name = f"{index_name}-{n}"
        cleanup.append(name)
        spec = IndexSpec(name, (TextField("body"),), dense=dense)
        engine_client.indices.create(index=name, body=build_index_body(spec, caps))
        for i, vector in enumerate(vectors):
            engine_client.index(index=name, id=f"d{i}", body={"body": "x", "vector": vector})
        engine_client.indices.refresh(index=name)
        hits = engine_client.search(index=name, body=_knn_query(engine, vectors[7], 3))
        assert hits["hits"]["hits"][0]["_id"] == "d7", dense


@pytest.fixture
def opensearch(engine: EngineHandle) -> EngineHandle:
    """The engine, for OpenSearch-only tests (other engines are deselected in conftest)."""
    assert engine.kind is EngineKind.OPENSEARCH
    return engine


@pytest.fixture
def elasticsearch(engine: EngineHandle) -> EngineHandle:
    """The engine, for Elasticsearch-only tests (other engines are deselected in conftest)."""
    assert engine.kind is EngineKind.ELASTICSEARCH
    return engine


OPENSEARCH_SPARSE_VECTOR = (
    "OpenSearch's SEISMIC sparse_vector (keyed by token ids) is not supported by Tandem; "
    "use rank_features (the default)"
)


def test_opensearch_refuses_sparse_vector_before_creating_the_index(
    opensearch: EngineHandle, index_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec asking for sparse_vector is refused with the capabilities the engine
    reports (3.6 reports a sparse_vector field, 2.19 none): create_index is never called."""
    adapter = connect(opensearch.url)
    try:
        caps = adapter.capabilities
        assert caps.sparse_vector == (caps.version >= (3, 3, 0))
        created: list[str] = []
        monkeypatch.setattr(adapter, "create_index", lambda name, body: created.append(name))
        for dense in (True, False):
            fields: list[dict[str, Any]] = [{"name": "body", "type": "text"}]
            if dense:
                fields.append({"name": "vector", "type": "dense", "dims": DIMS})
            fields.append({"name": "terms", "type": "sparse_vector"})
            spec = IndexSpec.from_dict({"name": index_name, "fields": fields})
            with pytest.raises(CapabilityError) as refused:
                ensure_index(adapter, spec, DIMS if dense else None)
            assert str(refused.value) == f"sparse field 'terms': {OPENSEARCH_SPARSE_VECTOR}"
        assert created == []
        assert not adapter.index_exists(index_name)
        # The query side refuses the type too, before any search is sent.
        req = SearchRequest(index_name, "heart", sparse_terms={"heart": 1.0})
        with pytest.raises(CapabilityError, match=r"SEISMIC sparse_vector \(keyed by token"):
            sparse_body(req, caps, "sparse_vector")
        # Left to choose, the sparse field is rank_features.
        assert sparse_type_for(caps) == "rank_features"
    finally:
        adapter.close()


def test_elasticsearch_sparse_vector_takes_term_names(
    elasticsearch: EngineHandle, engine_client: Any, index_name: str
) -> None:
    caps = capabilities_for(elasticsearch)
    spec = IndexSpec(
        index_name, (TextField("body"),), sparse=SparseField("terms", type="sparse_vector")
    )
    assert sparse_field_type(spec, caps) == "sparse_vector"
    engine_client.indices.create(index=index_name, body=build_index_body(spec, caps))
    engine_client.index(
        index=index_name, id="d1", body={"body": "x", "terms": {"heart": 0.5}}, refresh=True
    )
    assert engine_client.count(index=index_name)["count"] == 1

"""Index specs: validation, the JSON form, and the exact create-index body per engine."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tandem.plugin.engines.base import Capabilities
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.index.mapping import build_index_body, check_against_engine, sparse_field_type
from tandem.plugin.index.spec import (
    DenseField,
    IndexSpec,
    MetadataField,
    Passages,
    SparseField,
    SpecError,
    TextField,
)

from ..capability_sets import ELASTICSEARCH_95, OPENSEARCH_36, OPENSEARCH_219

# A full Elasticsearch distribution has mapper-extras; an OpenSearch with native k-NN, faiss.
ELASTICSEARCH_FULL = replace(ELASTICSEARCH_95, rank_features=True)
OPENSEARCH_36_FAISS = replace(OPENSEARCH_36, knn_engines=("lucene", "faiss"))
OPENSEARCH_219_FAISS = replace(OPENSEARCH_219, knn_engines=("lucene", "faiss"))

FULL = IndexSpec(
    name="docs",
    text_fields=(TextField("title", analyzer="english"), TextField("body")),
    dense=DenseField("vector", dims=384),
    sparse=SparseField("terms"),
    metadata=(
        MetadataField("category", "keyword"),
        MetadataField("year", "integer"),
        MetadataField("views", "long"),
        MetadataField("rating", "float"),
        MetadataField("public", "boolean"),
        MetadataField("published", "date"),
    ),
    shards=2,
    replicas=1,
)
TEXT_PROPERTIES = {
    "title": {"type": "text", "analyzer": "english"},
    "body": {"type": "text", "analyzer": "english"},
}
METADATA_PROPERTIES = {
    "category": {"type": "keyword"},
    "year": {"type": "integer"},
    "views": {"type": "long"},
    "rating": {"type": "float"},
    "public": {"type": "boolean"},
    "published": {"type": "date"},
}
KNN_VECTOR_384 = {
    "type": "knn_vector",
    "dimension": 384,
    "method": {
        "name": "hnsw",
        "engine": "lucene",
        "space_type": "cosinesimil",
        "parameters": {"m": 16, "ef_construction": 100},
    },
}


def _spec(**changes: Any) -> IndexSpec:
    return replace(FULL, **changes)


def _only_dense(dense: DenseField) -> IndexSpec:
    return IndexSpec(name="docs", text_fields=(), dense=dense)


# --- exact bodies -------------------------------------------------------------

# Every index Tandem creates is marked as its own and names its vector fields.
FULL_META = {
    "tandem": {
        "created_by": "tandem",
        "text": [f.name for f in FULL.text_fields],
        "dense": "vector",
        "sparse": "terms",
        "passages": None,
    }
}


def test_opensearch_36_body() -> None:
    assert build_index_body(FULL, OPENSEARCH_36, model_dims=384) == {
        "settings": {"index": {"number_of_shards": 2, "number_of_replicas": 1, "knn": True}},
        "mappings": {
            "_meta": FULL_META,
            "properties": {
                **TEXT_PROPERTIES,
                "vector": KNN_VECTOR_384,
                "terms": {"type": "rank_features"},
                **METADATA_PROPERTIES,
            },
        },
    }


def test_opensearch_219_body() -> None:
    # Same as 3.6: the dense field keeps rank_features beside it on both lines.
    assert build_index_body(FULL, OPENSEARCH_219, model_dims=384) == build_index_body(
        FULL, OPENSEARCH_36, model_dims=384
    )


def test_elasticsearch_95_body() -> None:
    assert build_index_body(FULL, ELASTICSEARCH_95, model_dims=384) == {
        "settings": {"index": {"number_of_shards": 2, "number_of_replicas": 1}},
        "mappings": {
            "_meta": FULL_META,
            "properties": {
                **TEXT_PROPERTIES,
                # The integ-test zip has no analysis-common: the default falls back.
                "body": {"type": "text", "analyzer": "standard"},
                "vector": {
                    "type": "dense_vector",
                    "dims": 384,
                    "index": True,
                    "similarity": "cosine",
                    "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
                },
                "terms": {"type": "sparse_vector"},
                **METADATA_PROPERTIES,
            },
        },
    }


def test_minimal_bodies() -> None:
    spec = IndexSpec(name="docs", text_fields=(TextField("body"),))
    for caps in (OPENSEARCH_36, OPENSEARCH_219, ELASTICSEARCH_95):
        analyzer = "english" if caps.language_analyzers else "standard"
        assert build_index_body(spec, caps) == {
            "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
            "mappings": {
                "_meta": {
                    "tandem": {
                        "created_by": "tandem",
                        "text": ["body"],
                        "dense": None,
                        "sparse": None,
                        "passages": None,
                    }
                },
                "properties": {"body": {"type": "text", "analyzer": analyzer}},
            },
        }


def test_passage_bodies_nest_the_dense_field() -> None:
    spec = _spec(passages=Passages(window=200, stride=100))
    meta = {"tandem": {**FULL_META["tandem"], "passages": {"window": 200, "stride": 100}}}
    opensearch = build_index_body(spec, OPENSEARCH_219, model_dims=384)
    assert opensearch["mappings"]["_meta"] == meta
    assert opensearch["settings"]["index"]["knn"] is True
    assert opensearch["mappings"]["properties"]["vector"] == {
        "type": "nested",
        "properties": {"vector": KNN_VECTOR_384},
    }
    elasticsearch = build_index_body(spec, ELASTICSEARCH_95, model_dims=384)
    flat = build_index_body(FULL, ELASTICSEARCH_95, model_dims=384)
    assert elasticsearch["mappings"]["properties"]["vector"] == {
        "type": "nested",
        "properties": {"vector": flat["mappings"]["properties"]["vector"]},
    }
    # Everything else is the flat index's body.
    for body, caps in ((opensearch, OPENSEARCH_219), (elasticsearch, ELASTICSEARCH_95)):
        plain = build_index_body(FULL, caps, model_dims=384)
        del body["mappings"]["properties"]["vector"], plain["mappings"]["properties"]["vector"]
        assert body["mappings"]["properties"] == plain["mappings"]["properties"]
        assert body["settings"] == plain["settings"]


def test_passages_in_the_json_form() -> None:
    raw = {
        "name": "docs",
        "passages": {"window": 128},
        "fields": [{"name": "v", "type": "dense", "dims": 3}],
    }
    assert IndexSpec.from_dict(raw).passages == Passages(window=128)
    assert IndexSpec.from_dict({**raw, "passages": {}}).passages == Passages()
    both = IndexSpec.from_dict({**raw, "passages": {"sparse": True}}).passages
    assert both == Passages(sparse=True) and both.as_dict() == {"sparse": True}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"passages": {"window": 0}}, "passages.window: must be between 1 and 8192, got 0"),
        ({"passages": {"size": 3}}, "passages.size: unknown key 'size' for passages"),
        (
            {"passages": {"window": 100, "stride": 101}},
            "passages.stride: stride 101 is longer than the window 100",
        ),
        ({"passages": True}, "passages: passages must be a JSON object, got True"),
        ({"passages": {"sparse": "yes"}}, "passages.sparse: must be true or false"),
        (
            {"passages": {}, "fields": [{"name": "t", "type": "text"}]},
            "passages: passages need a dense field",
        ),
    ],
)
def test_bad_passages_are_refused(raw: dict[str, Any], message: str) -> None:
    data = {"name": "docs", "fields": [{"name": "v", "type": "dense", "dims": 3}], **raw}
    with pytest.raises(SpecError) as caught:
        IndexSpec.from_dict(data)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("similarity", "space_type", "es_similarity"),
    [
        ("cosine", "cosinesimil", "cosine"),
        ("dot_product", "innerproduct", "dot_product"),
        ("l2", "l2", "l2_norm"),
    ],
)
def test_similarities(similarity: Any, space_type: str, es_similarity: str) -> None:
    spec = _only_dense(DenseField("v", dims=8, similarity=similarity, m=24, ef_construction=200))
    os_field = build_index_body(spec, OPENSEARCH_36)["mappings"]["properties"]["v"]
    assert os_field["method"] == {
        "name": "hnsw",
        "engine": "lucene",
        "space_type": space_type,
        "parameters": {"m": 24, "ef_construction": 200},
    }
    es_field = build_index_body(spec, ELASTICSEARCH_95)["mappings"]["properties"]["v"]
    assert es_field["similarity"] == es_similarity
    assert es_field["index_options"] == {"type": "hnsw", "m": 24, "ef_construction": 200}


@pytest.mark.parametrize("caps", [OPENSEARCH_36, OPENSEARCH_219], ids=["3.6", "2.19"])
def test_opensearch_int8_is_lucene_7_bit_quantisation(caps: Capabilities) -> None:
    spec = _only_dense(DenseField("v", dims=8, quantization="int8"))
    parameters = build_index_body(spec, caps)["mappings"]["properties"]["v"]["method"]["parameters"]
    assert parameters == {
        "m": 16,
        "ef_construction": 100,
        "encoder": {"name": "sq", "parameters": {"bits": 7}},
    }


@pytest.mark.parametrize(
    ("caps", "encoder_parameters"),
    [(OPENSEARCH_36_FAISS, {"bits": 16}), (OPENSEARCH_219_FAISS, {"type": "fp16"})],
    ids=["3.6", "2.19"],
)
def test_opensearch_faiss_fp16(caps: Capabilities, encoder_parameters: dict[str, Any]) -> None:
    spec = _only_dense(DenseField("v", dims=8, engine="faiss", quantization="fp16"))
    assert build_index_body(spec, caps)["mappings"]["properties"]["v"]["method"] == {
        "name": "hnsw",
        "engine": "faiss",
        "space_type": "cosinesimil",
        "parameters": {
            "m": 16,
            "ef_construction": 100,
            "encoder": {"name": "sq", "parameters": encoder_parameters},
        },
    }


@pytest.mark.parametrize("index_type", ["int8_hnsw", "bbq_hnsw"])
def test_elasticsearch_index_types(index_type: Any) -> None:
    spec = _only_dense(DenseField("v", dims=64, index_type=index_type))
    field = build_index_body(spec, ELASTICSEARCH_95)["mappings"]["properties"]["v"]
    assert field["index_options"] == {"type": index_type, "m": 16, "ef_construction": 100}


@pytest.mark.parametrize(
    ("caps", "dense", "wanted", "expected"),
    [
        (OPENSEARCH_36, True, None, "rank_features"),
        (OPENSEARCH_36, False, None, "rank_features"),
        (OPENSEARCH_36, False, "rank_features", "rank_features"),
        (OPENSEARCH_219, False, None, "rank_features"),
        (ELASTICSEARCH_95, True, None, "sparse_vector"),
        (ELASTICSEARCH_FULL, True, None, "sparse_vector"),
        (ELASTICSEARCH_FULL, True, "rank_features", "rank_features"),
    ],
)
def test_sparse_field_type(caps: Capabilities, dense: bool, wanted: Any, expected: str) -> None:
    spec = _spec(sparse=SparseField("terms", type=wanted), dense=FULL.dense if dense else None)
    assert sparse_field_type(spec, caps) == expected
    properties = build_index_body(spec, caps)["mappings"]["properties"]
    assert properties["terms"]["type"] == expected


def test_no_sparse_field_means_no_sparse_type() -> None:
    assert sparse_field_type(_spec(sparse=None), OPENSEARCH_36) is None


def test_bodies_are_fresh_objects() -> None:
    spec = _only_dense(DenseField("v", dims=8, quantization="int8"))
    body = build_index_body(spec, OPENSEARCH_36)
    body["mappings"]["properties"]["v"]["method"]["parameters"]["encoder"]["parameters"]["bits"] = 1
    again = build_index_body(spec, OPENSEARCH_36)
    assert again["mappings"]["properties"]["v"]["method"]["parameters"]["encoder"] == {
        "name": "sq",
        "parameters": {"bits": 7},
    }


# --- what the engine or model rules out ------------------------------------------


def test_dims_must_match_the_model() -> None:
    spec = _spec(dense=DenseField("vector", dims=512))
    message = "dense field 'vector' has 512 dims but the model minilm makes 384"
    with pytest.raises(SpecError, match=message):
        build_index_body(spec, OPENSEARCH_36, model_dims=384, model_name="minilm")
    with pytest.raises(SpecError, match="but the dense model makes 384; set dims to 384"):
        check_against_engine(spec, ELASTICSEARCH_95, model_dims=384)


@pytest.mark.parametrize("model_dims", [0, -3, True])
def test_model_dims_must_be_positive(model_dims: Any) -> None:
    with pytest.raises(ValueError, match="model_dims must be a positive integer"):
        build_index_body(FULL, OPENSEARCH_36, model_dims=model_dims)


def test_model_dims_without_dense_field_are_ignored() -> None:
    assert "vector" not in str(build_index_body(_spec(dense=None), OPENSEARCH_36, model_dims=7))


@pytest.mark.parametrize(
    ("spec", "caps", "message"),
    [
        (
            FULL,
            replace(OPENSEARCH_36, dense=False),
            "no dense vector field .install the opensearch-knn",
        ),
        (FULL, replace(ELASTICSEARCH_95, dense=False), "Elasticsearch 9.5.4 has no dense vector"),
        (
            _only_dense(DenseField("v", dims=8, engine="faiss")),
            OPENSEARCH_36,
            "faiss is not available on OpenSearch 3.6.0 .* kills the node.*use engine='lucene'",
        ),
        (
            _only_dense(DenseField("v", dims=8, engine="faiss", quantization="fp16")),
            OPENSEARCH_219,
            "faiss is not available on OpenSearch 2.19.6",
        ),
        (
            _only_dense(DenseField("v", dims=8)),
            replace(OPENSEARCH_36, knn_engines=()),
            "k-NN engine 'lucene' is not available on OpenSearch 3.6.0 .available: none",
        ),
        (
            _only_dense(DenseField("v", dims=64, index_type="bbq_hnsw")),
            OPENSEARCH_36,
            "index_type 'bbq_hnsw' is an Elasticsearch option; on OpenSearch .*quantization='int8'",
        ),
        (
            _only_dense(DenseField("v", dims=8, quantization="int8")),
            ELASTICSEARCH_95,
            "OpenSearch options; on Elasticsearch use index_type .'int8_hnsw'",
        ),
        (
            _only_dense(DenseField("v", dims=8, engine="lucene")),
            ELASTICSEARCH_95,
            "engine and quantization are OpenSearch options",
        ),
        (
            _spec(sparse=SparseField("terms", type="rank_features")),
            ELASTICSEARCH_95,
            "Elasticsearch 9.5.4 has no rank_features field .*; use type 'sparse_vector'",
        ),
        (
            _spec(sparse=SparseField("terms")),
            replace(ELASTICSEARCH_95, sparse_vector=False),
            "sparse field 'terms': Elasticsearch 9.5.4 has no usable sparse field type",
        ),
        (
            _spec(sparse=SparseField("terms")),
            replace(OPENSEARCH_36, rank_features=False),
            r"OpenSearch 3.6.0 has no usable sparse field type \(rank_features: OpenSearch "
            r"3.6.0 has no rank_features field \(no mapper-extras module\)\)",
        ),
    ],
)
def test_capability_errors(spec: IndexSpec, caps: Capabilities, message: str) -> None:
    with pytest.raises(CapabilityError, match=message):
        build_index_body(spec, caps)
    with pytest.raises(CapabilityError, match=message):
        check_against_engine(spec, caps)


# OpenSearch's sparse_vector (SEISMIC) is keyed by token ids; Tandem writes term names.
OPENSEARCH_SPARSE_VECTOR = (
    "sparse field 'terms': OpenSearch's SEISMIC sparse_vector (keyed by token ids) is not "
    "supported by Tandem; use rank_features (the default)"
)


@pytest.mark.parametrize(
    "caps",
    [
        OPENSEARCH_36,
        OPENSEARCH_219,
        replace(OPENSEARCH_36, rank_features=False),
    ],
    ids=["3.6", "2.19", "3.6-no-mapper-extras"],
)
@pytest.mark.parametrize("dense", [True, False], ids=["with-dense", "sparse-only"])
def test_opensearch_refuses_sparse_vector(caps: Capabilities, dense: bool) -> None:
    # Refused whatever the engine detects (3.6 reports a sparse_vector field).
    spec = _spec(
        sparse=SparseField("terms", type="sparse_vector"),
        dense=FULL.dense if dense else None,
    )
    for check in (sparse_field_type, check_against_engine, build_index_body):
        with pytest.raises(CapabilityError) as refused:
            check(spec, caps)
        assert str(refused.value) == OPENSEARCH_SPARSE_VECTOR
    # From the JSON form too, as CreateIndex and `tandem index create` read it.
    data = {"name": "docs", "fields": [{"name": "terms", "type": "sparse_vector"}]}
    with pytest.raises(CapabilityError, match=r"SEISMIC sparse_vector \(keyed by token ids\)"):
        build_index_body(IndexSpec.from_dict(data), caps)


def test_opensearch_maps_rank_features_even_with_sparse_vector_detected() -> None:
    assert OPENSEARCH_36.sparse_vector  # a detected engine fact, not a field choice
    for dense in (FULL.dense, None):
        spec = _spec(dense=dense)
        assert sparse_field_type(spec, OPENSEARCH_36) == "rank_features"
        body = build_index_body(spec, OPENSEARCH_36)
        assert body["mappings"]["properties"]["terms"] == {"type": "rank_features"}
        assert "sparse" not in body["settings"]["index"]


# --- validation of the spec itself ------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TextField("a.b"), r"name: field name 'a\.b' is not allowed.*nested object path"),
        (lambda: TextField("_id"), "name: field name '_id' is not allowed"),
        (lambda: TextField(""), "name: field name '' is not allowed"),
        (lambda: TextField("1st"), "starting with a letter"),
        (lambda: TextField("a b"), "use letters, digits, '_' and '-'"),
        (lambda: TextField("a" * 256), "at most 255 characters"),
        (lambda: TextField("body", analyzer="my analyzer"), "body.analyzer: 'my analyzer' is not"),
        (lambda: DenseField("v", dims=0), "v.dims: must be between 1 and 4096, got 0"),
        (lambda: DenseField("v", dims=4097), "v.dims: must be between 1 and 4096, got 4097"),
        (lambda: DenseField("v", dims=True), "v.dims: must be an integer, got True"),
        (lambda: DenseField("v", dims="384"), "v.dims: must be an integer, got '384'"),
        (lambda: DenseField("v", dims=8, m=1), "v.m: must be between 2 and 512, got 1"),
        (lambda: DenseField("v", dims=8, m=513), "v.m: must be between 2 and 512, got 513"),
        (
            lambda: DenseField("v", dims=8, m=32, ef_construction=16),
            "v.ef_construction: must be between 32 and 3200 .at least m",
        ),
        (
            lambda: DenseField("v", dims=8, ef_construction=3201),
            "v.ef_construction: must be between 16 and 3200",
        ),
        (
            lambda: DenseField("v", dims=8, similarity="euclidean"),
            "v.similarity: 'euclidean' is not supported; use one of 'cosine', 'dot_product', 'l2'",
        ),
        (
            lambda: DenseField("v", dims=8, engine="nmslib"),
            "v.engine: 'nmslib' is not supported; use one of 'lucene', 'faiss' or None",
        ),
        (
            lambda: DenseField("v", dims=8, quantization="int4"),
            "v.quantization: 'int4' is not supported; use one of 'int8', 'fp16' or None",
        ),
        (
            lambda: DenseField("v", dims=8, quantization="fp16"),
            "v.quantization: 'fp16' is faiss scalar quantisation: set engine='faiss'",
        ),
        (
            lambda: DenseField("v", dims=8, engine="faiss", quantization="int8"),
            "v.quantization: faiss has no 'int8'",
        ),
        (
            lambda: DenseField("v", dims=8, index_type="hnsw2"),
            "v.index_type: 'hnsw2' is not supported; use one of 'hnsw', 'int8_hnsw', 'bbq_hnsw'",
        ),
        (
            lambda: DenseField("v", dims=8, index_type="int8_hnsw", engine="lucene"),
            "v.index_type: index_type is Elasticsearch's option",
        ),
        (
            lambda: DenseField("v", dims=32, index_type="bbq_hnsw"),
            "v.index_type: bbq_hnsw needs at least 64 dims, got 32",
        ),
        (
            lambda: SparseField("s", type="sparse"),
            "s.type: 'sparse' is not supported; use one of 'rank_features', 'sparse_vector'",
        ),
        (
            lambda: MetadataField("m", type="text"),
            "m.type: 'text' is not supported; use one of 'keyword', 'integer', 'long'",
        ),
        (lambda: _spec(name="Docs"), "name: index name 'Docs' is not allowed"),
        (lambda: _spec(name="_docs"), "name: index name '_docs' is not allowed"),
        (lambda: _spec(name="a/b"), "name: index name 'a/b' is not allowed"),
        (lambda: _spec(name=""), "name: index name '' is not allowed"),
        (lambda: _spec(shards=0), "shards: must be between 1 and 1024, got 0"),
        (lambda: _spec(replicas=-1), "replicas: must be between 0 and 64, got -1"),
        (lambda: _spec(shards=1.5), "shards: must be an integer, got 1.5"),
        (
            lambda: _spec(metadata=(MetadataField("body", "keyword"),)),
            "fields: field name 'body' is used twice .text and metadata",
        ),
        (
            lambda: _spec(sparse=SparseField("vector")),
            "fields: field name 'vector' is used twice .dense and sparse",
        ),
        (
            lambda: IndexSpec(name="docs", text_fields=(), metadata=(MetadataField("m", "long"),)),
            "fields: an index needs at least one text, dense or sparse field",
        ),
        (
            lambda: IndexSpec(name="docs", text_fields=("body",)),  # type: ignore[arg-type]
            "text_fields: expected a TextField, got 'body'",
        ),
        (
            lambda: _spec(dense=SparseField("v")),
            "dense: expected a DenseField",
        ),
    ],
)
def test_validation_errors(build: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        build()


def test_spec_errors_are_value_errors() -> None:
    assert issubclass(SpecError, ValueError)


def test_lists_are_frozen_to_tuples() -> None:
    spec = IndexSpec(name="docs", text_fields=[TextField("body")])  # type: ignore[arg-type]
    assert spec.text_fields == (TextField("body"),)
    assert hash(spec) == hash(IndexSpec(name="docs", text_fields=(TextField("body"),)))


# --- the JSON form ---------------------------------------------------------------

FULL_JSON: dict[str, Any] = {
    "name": "docs",
    "shards": 2,
    "replicas": 1,
    "fields": [
        {"name": "title", "type": "text", "analyzer": "english"},
        {"name": "vector", "type": "dense", "dims": 384},
        {"name": "body", "type": "text"},
        {"name": "terms", "type": "sparse"},
        {"name": "category", "type": "keyword"},
        {"name": "year", "type": "integer"},
        {"name": "views", "type": "long"},
        {"name": "rating", "type": "float"},
        {"name": "public", "type": "boolean"},
        {"name": "published", "type": "date"},
    ],
}


def test_from_dict() -> None:
    assert IndexSpec.from_dict(FULL_JSON) == FULL


def test_from_dict_every_option() -> None:
    spec = IndexSpec.from_dict(
        {
            "name": "docs",
            "fields": [
                {
                    "name": "v",
                    "type": "dense",
                    "dims": 8,
                    "similarity": "l2",
                    "m": 32,
                    "ef_construction": 256,
                    "engine": "lucene",
                    "quantization": "int8",
                },
                {"name": "s", "type": "sparse_vector"},
            ],
        }
    )
    assert spec == IndexSpec(
        name="docs",
        text_fields=(),
        dense=DenseField("v", 8, "l2", 32, 256, engine="lucene", quantization="int8"),
        sparse=SparseField("s", type="sparse_vector"),
    )
    assert IndexSpec.from_dict(
        {"name": "d", "fields": [{"name": "s", "type": "rank_features"}]}
    ).sparse == SparseField("s", type="rank_features")


def _with_field(field: object, at: int = 2) -> dict[str, Any]:
    fields = list(FULL_JSON["fields"])
    fields.insert(at, field)
    return {**FULL_JSON, "fields": fields}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _with_field({"name": "v2", "type": "vector"}),
            r"fields\[2\]\.type: unknown field type 'vector'; use one of text, dense, sparse, "
            "rank_features, sparse_vector, keyword, integer, long, float, boolean, date$",
        ),
        (_with_field({"name": "x"}), r"fields\[2\].type: every field needs a type; use one of"),
        (_with_field({"type": "keyword"}), r"fields\[2\]\.name: a keyword field needs 'name'"),
        (_with_field("title"), r"fields\[2\]: a field must be a JSON object, got 'title'"),
        (
            _with_field({"name": "x", "type": "keyword", "index": False}),
            r"fields\[2\].index: unknown key 'index' for a keyword field; allowed: type, name",
        ),
        (
            _with_field({"name": "t2", "type": "text", "analyser": "english"}),
            r"fields\[2\].analyser: unknown key 'analyser' for a text field; "
            "allowed: type, name, analyzer",
        ),
        (
            {"name": "d", "fields": [{"name": "v", "type": "dense", "dim": 8}]},
            r"fields\[0\].dim: unknown key 'dim' for a dense field; allowed: type, name, dims,",
        ),
        (
            {"name": "d", "fields": [{"name": "v", "type": "dense"}]},
            r"fields\[0\].dims: a dense field needs 'dims'",
        ),
        (
            {"name": "d", "fields": [{"name": "v", "type": "dense", "dims": 8, "m": 1000}]},
            r"fields\[0\].m: must be between 2 and 512, got 1000",
        ),
        (
            {"name": "d", "fields": [{"name": "a.b", "type": "text"}]},
            r"fields\[0\].name: field name 'a\.b' is not allowed",
        ),
        (
            _with_field({"name": "v2", "type": "dense", "dims": 8}, at=5),
            r"fields\[5\].type: a second dense field; an index holds at most one",
        ),
        (
            _with_field({"name": "t2", "type": "rank_features"}, at=7),
            r"fields\[7\].type: a second sparse field",
        ),
        (
            _with_field({"name": "year", "type": "keyword"}, at=1),
            r"fields\[6\].name: field name 'year' is already used by fields\[1\]",
        ),
        ({**FULL_JSON, "shard": 1}, "shard: unknown key 'shard' for the index spec; allowed: name"),
        ({**FULL_JSON, "fields": {"title": "text"}}, "fields: must be a list of fields"),
        ({**FULL_JSON, "name": "Docs"}, "name: index name 'Docs' is not allowed"),
        ({"fields": FULL_JSON["fields"]}, "name: index name '' is not allowed"),
        ({**FULL_JSON, "replicas": "1"}, "replicas: must be an integer, got '1'"),
        (["docs"], "the index spec must be a JSON object"),
    ],
)
def test_from_dict_errors_name_the_json_path(data: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        IndexSpec.from_dict(data)


FOLDED = {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                  "filter": ["lowercase", "asciifolding"]}}}  # fmt: skip


def test_bm25_parameters_and_custom_analyzers_go_into_the_index_settings() -> None:
    spec = IndexSpec.from_dict(
        {
            "name": "docs",
            "bm25": {"k1": 0.9, "b": 0.4},
            "analysis": FOLDED,
            "fields": [
                {"name": "title", "type": "text", "analyzer": "folded"},
                {"name": "body", "type": "text"},
            ],
        }
    )
    for caps in (OPENSEARCH_36, OPENSEARCH_219, ELASTICSEARCH_95):
        body = build_index_body(spec, caps)
        assert body["settings"]["index"] == {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "similarity": {"default": {"type": "BM25", "k1": 0.9, "b": 0.4}},
            "analysis": FOLDED,
        }
        default = "english" if caps.language_analyzers else "standard"  # stemmed where it can
        assert body["mappings"]["properties"] == {
            "title": {"type": "text", "analyzer": "folded"},
            "body": {"type": "text", "analyzer": default},
        }


def test_the_default_analyzer_is_english_where_the_engine_has_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = IndexSpec(name="docs", text_fields=(TextField("body"),))
    full = replace(ELASTICSEARCH_95, plugins=ELASTICSEARCH_95.plugins | {"analysis-common"})
    assert _analyzer(build_index_body(spec, full)) == "english"
    assert _analyzer(build_index_body(spec, OPENSEARCH_219)) == "english"
    with caplog.at_level("WARNING", logger="tandem"):
        assert _analyzer(build_index_body(spec, ELASTICSEARCH_95)) == "standard"
    assert "no language analyzers" in caplog.text and "Elasticsearch 9.5.4" in caplog.text


def _analyzer(body: dict[str, Any]) -> str:
    return str(body["mappings"]["properties"]["body"]["analyzer"])


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"bm25": {"k1": -1}}, "bm25.k1: must be between 0 and 10, got -1"),
        ({"bm25": {"b": 1.5}}, "bm25.b: must be between 0 and 1, got 1.5"),
        ({"bm25": {"b": "high"}}, "bm25.b: must be a number"),
        ({"bm25": {"k3": 1}}, "unknown key 'k3' for bm25"),
        ({"analysis": {"analyzers": {}}}, "analysis.analyzers: unknown section"),
        ({"analysis": {"analyzer": {"x y": {}}}}, "analysis.analyzer: must map names"),
        ({"analysis": ["lowercase"]}, "analysis: must be a JSON object"),
    ],
)
def test_bad_bm25_and_analysis_are_refused_by_path(extra: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError, match=words.replace(".", r"\.").replace("(", r"\(")):
        IndexSpec.from_dict({"name": "docs", "fields": [{"name": "t", "type": "text"}], **extra})

"""Create-index bodies: an :class:`IndexSpec` written out for one engine.

Everything the engine would refuse, or accept and then fail on, is checked
before a body is returned: the model's dimensions, field types the engine
lacks, the k-NN engine (faiss kills OpenSearch nodes built from the Maven
artifacts) and OpenSearch's ``sparse_vector``, which Tandem does not support
(:data:`OPENSEARCH_SPARSE_VECTOR_REFUSAL`). The facts behind each rule are in
docs/engines.md.
"""

from __future__ import annotations

import logging

from tandem.plugin.engines.base import Capabilities, Json
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.engines.kinds import EngineKind

from .fields import tandem_meta
from .spec import (
    DEFAULT_ANALYZER,
    DEFAULT_SPARSE_FIELD,
    PASSAGE_VECTOR,
    DenseField,
    IndexSpec,
    MetadataField,
    SparseField,
    SparseType,
    SpecError,
    TextField,
)

log = logging.getLogger("tandem")

_OPENSEARCH_SPACES = {"cosine": "cosinesimil", "dot_product": "innerproduct", "l2": "l2"}
_ELASTICSEARCH_SIMILARITIES = {"cosine": "cosine", "dot_product": "dot_product", "l2": "l2_norm"}
# Sparse types Tandem maps, in order of preference; each takes term names (encode_term).
# OpenSearch: rank_features only (its sparse_vector is keyed by token ids, see below).
# Elasticsearch: sparse_vector has its own query; rank_features needs mapper-extras.
_SPARSE_PREFERENCE: dict[EngineKind, tuple[SparseType, ...]] = {
    EngineKind.OPENSEARCH: ("rank_features",),
    EngineKind.ELASTICSEARCH: ("sparse_vector", "rank_features"),
}
# Why a sparse_vector field is refused on OpenSearch (mapping and query alike): its
# field is keyed by vocabulary ids, and Tandem writes and searches term names.
OPENSEARCH_SPARSE_VECTOR_REFUSAL = (
    "OpenSearch's SEISMIC sparse_vector (keyed by token ids) is not supported by Tandem; "
    "use rank_features (the default)"
)
DEFAULT_KNN_ENGINE = "lucene"
# Lucene scalar quantisation: int8 is its 7-bit mode. (1 bit needs the k-NN plugin's
# native SIMD library: searching it kills nodes built without one.)
_LUCENE_INT8_BITS = 7
# "Parameter [bits] is required for encoder [sq] on indices created with 3.6.0 or later".
_SQ_BITS_SINCE = (3, 6, 0)


def build_index_body(
    spec: IndexSpec,
    caps: Capabilities,
    model_dims: int | None = None,
    *,
    model_name: str | None = None,
) -> Json:
    """The create-index body for ``spec`` on the engine ``caps`` describes.

    ``model_dims`` is what the dense model produces (``model_name`` only makes
    the message clearer); the dense field must match it. Raises
    :class:`~tandem.plugin.index.spec.SpecError` for a dimension mismatch and
    :class:`~tandem.plugin.engines.errors.CapabilityError` for what the engine
    cannot hold, each before anything is built.
    """
    check_against_engine(spec, caps, model_dims, model_name=model_name)
    sparse_type = sparse_field_type(spec, caps)
    if _is_opensearch(caps):
        body = _opensearch_body(spec, caps)
    else:
        body = _elasticsearch_body(spec, caps, sparse_type)
    # Marks the index as Tandem's (DeleteIndex checks it) and names its vector fields.
    body["mappings"] = {"_meta": tandem_meta(spec), **body["mappings"]}
    return body


def check_against_engine(
    spec: IndexSpec,
    caps: Capabilities,
    model_dims: int | None = None,
    *,
    model_name: str | None = None,
) -> None:
    """Raise what :func:`build_index_body` would raise, without building anything."""
    if spec.dense is not None:
        if model_dims is not None:
            _check_model_dims(spec.dense, model_dims, model_name)
        _check_dense(spec.dense, caps)
    sparse_field_type(spec, caps)


def sparse_type_for(caps: Capabilities, field: str = DEFAULT_SPARSE_FIELD) -> SparseType:
    """The type a sparse ``field`` that Tandem created has on this engine: searchers need
    it to write the matching query, and no spec is at hand there."""
    probe = IndexSpec("probe", (TextField("text"),), sparse=SparseField(field))
    found = sparse_field_type(probe, caps)
    assert found is not None  # the probe has a sparse field
    return found


def sparse_field_type(spec: IndexSpec, caps: Capabilities) -> SparseType | None:
    """The engine field type the spec's sparse field gets (``None`` without one).

    Searchers need it to write the matching query; every type it returns takes
    term names as keys (see :mod:`tandem.plugin.index.terms`). On OpenSearch
    that is ``rank_features``: asking for ``sparse_vector`` there raises
    :class:`~tandem.plugin.engines.errors.CapabilityError`.
    """
    sparse = spec.sparse
    if sparse is None:
        return None
    if _is_opensearch(caps) and sparse.type == "sparse_vector":
        raise CapabilityError(f"sparse field {sparse.name!r}: {OPENSEARCH_SPARSE_VECTOR_REFUSAL}")
    usable = [t for t in _SPARSE_PREFERENCE[caps.kind] if _why_not(t, caps) is None]
    if sparse.type is None:
        if usable:
            return usable[0]
        reasons = "; ".join(f"{t}: {_why_not(t, caps)}" for t in _SPARSE_PREFERENCE[caps.kind])
        raise CapabilityError(
            f"sparse field {sparse.name!r}: {caps.label} has no usable sparse field type "
            f"({reasons}); drop the sparse field or use another engine"
        )
    why = _why_not(sparse.type, caps)
    if why is not None:
        others = [t for t in usable if t != sparse.type]
        instead = f"; use type {others[0]!r} or leave type unset" if others else ""
        raise CapabilityError(f"sparse field {sparse.name!r}: {why}{instead}")
    return sparse.type


def _is_opensearch(caps: Capabilities) -> bool:
    return caps.kind is EngineKind.OPENSEARCH


def _why_not(sparse_type: SparseType, caps: Capabilities) -> str | None:
    """Why ``sparse_type``, one Tandem maps on this engine, cannot be used here, or
    ``None`` if it can."""
    if sparse_type == "rank_features":
        if not caps.rank_features:
            return f"{caps.label} has no rank_features field (no mapper-extras module)"
        return None
    if not caps.sparse_vector:
        return f"{caps.label} has no sparse_vector field"
    return None


def _check_model_dims(dense: DenseField, model_dims: int, model_name: str | None) -> None:
    if isinstance(model_dims, bool) or not isinstance(model_dims, int) or model_dims <= 0:
        raise ValueError(f"model_dims must be a positive integer, got {model_dims!r}")
    if dense.dims != model_dims:
        model = f"the model {model_name}" if model_name else "the dense model"
        raise SpecError(
            f"dense field {dense.name!r} has {dense.dims} dims but {model} makes "
            f"{model_dims}; set dims to {model_dims} or use a model that makes {dense.dims}"
        )


def _check_dense(dense: DenseField, caps: Capabilities) -> None:
    where = f"dense field {dense.name!r}"
    if not caps.dense:
        plugin = " (install the opensearch-knn plugin)" if _is_opensearch(caps) else ""
        raise CapabilityError(f"{where}: {caps.label} has no dense vector field{plugin}")
    if caps.kind is EngineKind.ELASTICSEARCH:
        if dense.engine is not None or dense.quantization is not None:
            raise CapabilityError(
                f"{where}: engine and quantization are OpenSearch options; on Elasticsearch "
                "use index_type ('int8_hnsw' for int8, 'bbq_hnsw' for binary quantisation)"
            )
        return
    if dense.index_type is not None:
        raise CapabilityError(
            f"{where}: index_type {dense.index_type!r} is an Elasticsearch option; on "
            "OpenSearch leave it unset and use quantization='int8' for a smaller graph"
        )
    engine = dense.engine or DEFAULT_KNN_ENGINE
    if engine not in caps.knn_engines:
        if engine == "faiss":
            raise CapabilityError(
                f"{where}: faiss is not available on {caps.label} (this k-NN plugin has no "
                "native libraries, and indexing into a faiss field kills the node); use "
                "engine='lucene', with quantization='int8' for a smaller graph"
            )
        available = ", ".join(caps.knn_engines) or "none"
        raise CapabilityError(
            f"{where}: k-NN engine {engine!r} is not available on {caps.label} "
            f"(available: {available})"
        )


def _settings(spec: IndexSpec) -> Json:
    settings: Json = {"number_of_shards": spec.shards, "number_of_replicas": spec.replicas}
    if spec.bm25 is not None:
        bm25 = {"type": "BM25", "k1": spec.bm25.k1, "b": spec.bm25.b}
        settings["similarity"] = {"default": bm25}
    if spec.analysis is not None:
        settings["analysis"] = dict(spec.analysis)
    return settings


def _common_properties(spec: IndexSpec, caps: Capabilities) -> tuple[Json, Json]:
    text = {f.name: _text(f, caps) for f in spec.text_fields}
    metadata = {f.name: _metadata(f) for f in spec.metadata}
    return text, metadata


def _text(field: TextField, caps: Capabilities) -> Json:
    return {"type": "text", "analyzer": field.analyzer or default_analyzer(caps)}


def default_analyzer(caps: Capabilities) -> str:
    """``english`` (stemming, stop words) where the engine has it, else ``standard``."""
    if caps.language_analyzers:
        return DEFAULT_ANALYZER
    log.warning(
        "%s has no language analyzers (no analysis-common module): text fields get the "
        "standard analyzer, without stemming or stop words",
        caps.label,
    )
    return "standard"


def _passages_or(spec: IndexSpec, vector: Json) -> Json:
    """The dense field's mapping: ``vector`` itself, or with passages a ``nested`` field
    whose objects hold it (nested kNN scores a document by its best passage)."""
    if spec.passages is None:
        return vector
    return {"type": "nested", "properties": {PASSAGE_VECTOR: vector}}


def _metadata(field: MetadataField) -> Json:
    return {"type": field.type}


def _opensearch_body(spec: IndexSpec, caps: Capabilities) -> Json:
    settings = _settings(spec)
    text, metadata = _common_properties(spec, caps)
    properties: Json = dict(text)
    if spec.dense is not None:
        settings["knn"] = True
        properties[spec.dense.name] = _passages_or(spec, _knn_vector(spec.dense, caps))
    if spec.sparse is not None:
        properties[spec.sparse.name] = {"type": "rank_features"}
    properties.update(metadata)
    return {"settings": {"index": settings}, "mappings": {"properties": properties}}


def _knn_vector(dense: DenseField, caps: Capabilities) -> Json:
    parameters: Json = {"m": dense.m, "ef_construction": dense.ef_construction}
    if dense.quantization == "int8":
        parameters["encoder"] = {"name": "sq", "parameters": {"bits": _LUCENE_INT8_BITS}}
    elif dense.quantization == "fp16":
        fp16 = {"bits": 16} if caps.version >= _SQ_BITS_SINCE else {"type": "fp16"}
        parameters["encoder"] = {"name": "sq", "parameters": fp16}
    return {
        "type": "knn_vector",
        "dimension": dense.dims,
        "method": {
            "name": "hnsw",
            "engine": dense.engine or DEFAULT_KNN_ENGINE,
            "space_type": _OPENSEARCH_SPACES[dense.similarity],
            "parameters": parameters,
        },
    }


def _elasticsearch_body(
    spec: IndexSpec, caps: Capabilities, sparse_type: SparseType | None
) -> Json:
    text, metadata = _common_properties(spec, caps)
    properties: Json = dict(text)
    if spec.dense is not None:
        properties[spec.dense.name] = _passages_or(spec, _dense_vector(spec.dense))
    if spec.sparse is not None:
        properties[spec.sparse.name] = {"type": sparse_type}
    properties.update(metadata)
    return {"settings": {"index": _settings(spec)}, "mappings": {"properties": properties}}


def _dense_vector(dense: DenseField) -> Json:
    return {
        "type": "dense_vector",
        "dims": dense.dims,
        "index": True,
        "similarity": _ELASTICSEARCH_SIMILARITIES[dense.similarity],
        "index_options": {
            # Always explicit: Elasticsearch 9.5 otherwise quantises (int8_hnsw below
            # 384 dims, bbq_hnsw from 384).
            "type": dense.index_type or "hnsw",
            "m": dense.m,
            "ef_construction": dense.ef_construction,
        },
    }

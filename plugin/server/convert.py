"""Protobuf messages to plain Python objects and back; nothing else imports ``tandem.v1``.

This module only converts: it parses JSON fields and fills in the defaults of
unset proto fields. What a request may ask for is checked by the domain objects
it becomes (:class:`~tandem.plugin.search.options.SearchOptions`,
:class:`~tandem.plugin.index.spec.IndexSpec`) and by the searcher's query
policy, so gRPC, CLI and Python callers pass the same checks. Every problem is a
``ValueError`` naming the field, which the error table answers with
``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tandem.encoders.pooling import FloatArray
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import SparseVector
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD
from tandem.plugin.ingest.documents import Document
from tandem.plugin.search.extension import TandemQuery, apply_overrides, parse_tandem_query
from tandem.plugin.search.hits import FusedHit
from tandem.plugin.search.names import (
    DEFAULT_RANK_CONSTANT,
    DEFAULT_SIZE,
    DEFAULT_WINDOW,
    Method,
    Mode,
    Normalization,
)
from tandem.plugin.search.options import DEFAULT_FIELDS, SearchOptions
from tandem.v1 import common_pb2, encode_pb2, index_pb2, search_pb2

from .encoding import Usage
from .errors import InvalidRequest, validating

_KINDS = {
    common_pb2.INPUT_KIND_UNSPECIFIED: InputKind.DOCUMENT,
    common_pb2.INPUT_KIND_QUERY: InputKind.QUERY,
    common_pb2.INPUT_KIND_DOCUMENT: InputKind.DOCUMENT,
}
_METHODS: dict[int, Method] = {
    search_pb2.SEARCH_METHOD_UNSPECIFIED: "rrf",
    search_pb2.SEARCH_METHOD_BM25: "bm25",
    search_pb2.SEARCH_METHOD_DENSE: "dense",
    search_pb2.SEARCH_METHOD_SPARSE: "sparse",
    search_pb2.SEARCH_METHOD_RRF: "rrf",
    search_pb2.SEARCH_METHOD_LINEAR: "linear",
}
_MODES: dict[int, Mode] = {
    search_pb2.FUSION_MODE_UNSPECIFIED: "auto",
    search_pb2.FUSION_MODE_AUTO: "auto",
    search_pb2.FUSION_MODE_NATIVE: "native",
    search_pb2.FUSION_MODE_SIDECAR: "sidecar",
}
_NORMALIZATIONS: dict[int, Normalization] = {
    search_pb2.NORMALIZATION_UNSPECIFIED: "min_max",
    search_pb2.NORMALIZATION_MIN_MAX: "min_max",
    search_pb2.NORMALIZATION_Z_SCORE: "z_score",
    search_pb2.NORMALIZATION_L2: "l2",
}


def _enum(table: Mapping[Any, Any], value: int, field: str) -> Any:
    if value not in table:
        raise InvalidRequest(f"{field}: unknown value {value}")
    return table[value]


def input_kind(value: int) -> InputKind:
    kind: InputKind = _enum(_KINDS, value, "kind")
    return kind


def metadata(
    usage: Usage, engine_ms: float = 0.0, total_ms: float = 0.0
) -> common_pb2.ResponseMetadata:
    return common_pb2.ResponseMetadata(
        tokens=usage.tokens,
        queue_ms=usage.queue_ms,
        inference_ms=usage.inference_ms,
        engine_ms=engine_ms,
        total_ms=total_ms,
    )


def dense_vectors(vectors: FloatArray) -> list[encode_pb2.DenseVector]:
    return [encode_pb2.DenseVector(values=row.tolist()) for row in vectors]


def sparse_vectors(vectors: list[SparseVector], tokens: bool) -> list[encode_pb2.SparseVector]:
    out = []
    for vector in vectors:
        values = [
            encode_pb2.SparseValue(index=int(i), value=float(w), token=t if tokens else None)
            for i, w, t in zip(vector.ids, vector.weights, vector.tokens, strict=True)
        ]
        out.append(encode_pb2.SparseVector(values=values))
    return out


def parse_json(text: str, field: str) -> Any:
    """``text`` parsed; malformed or absurdly nested JSON is the caller's to fix."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidRequest(f"{field} is not valid JSON: {err}") from None
    except RecursionError:
        raise InvalidRequest(f"{field} is nested too deeply to be a query") from None


def json_object(text: str, field: str) -> dict[str, Any]:
    """Parse a JSON object field; anything else is a ``ValueError`` naming ``field``."""
    value = parse_json(text, field)
    if not isinstance(value, dict):
        raise InvalidRequest(f"{field} must be a JSON object, got {type(value).__name__}")
    return value


def with_model_dims(spec: dict[str, Any], dims: int | None) -> dict[str, Any]:
    """The index spec with the model's dims filled into a dense field that has none."""
    raw_fields = spec.get("fields")
    if dims is None or not isinstance(raw_fields, list):
        return spec
    filled = [
        {**f, "dims": dims}
        if isinstance(f, dict) and f.get("type") == "dense" and "dims" not in f
        else f
        for f in raw_fields
    ]
    return {**spec, "fields": filled}


@dataclass(frozen=True)
class SearchCall:
    """A :class:`search_pb2.SearchRequest` as plain values."""

    index: str
    query: str
    options: SearchOptions
    explain: bool
    dense_field: str
    sparse_field: str
    dsl: TandemQuery | None = None


@validating()
def search_call(request: search_pb2.SearchRequest) -> SearchCall:
    """The request as plain values (the searcher applies the query policy)."""
    if not request.index.strip():
        raise InvalidRequest("index is empty: name the index to search")
    dsl = None
    if request.query_dsl_json:
        if request.query:
            raise InvalidRequest(
                "query and query_dsl_json are both set: put the text in the tandem clause"
            )
        raw = parse_json(request.query_dsl_json, "query_dsl_json")
        dsl = parse_tandem_query(raw)
    elif not request.query.strip():
        raise InvalidRequest("query is empty: send the user's query text")
    filters = tuple(
        json_object(text, f"filters_json[{i}]") for i, text in enumerate(request.filters_json)
    )
    for name in ("dense_field", "sparse_field"):
        value = getattr(request, name)
        if value and not value.strip():
            raise InvalidRequest(f"{name} is blank: leave it unset for the default or name a field")
    k = request.k or DEFAULT_SIZE
    start = getattr(request, "from")
    window = request.window or max(DEFAULT_WINDOW, start + k)
    options = SearchOptions(
        method=_enum(_METHODS, request.method, "method"),
        start=start,
        size=k,
        window=window,
        normalization=_enum(_NORMALIZATIONS, request.normalization, "normalization"),
        rank_constant=request.rank_constant or DEFAULT_RANK_CONSTANT,
        weights=dict(request.weights),
        fields=tuple(request.fields) or DEFAULT_FIELDS,
        filters=filters,
        mode=_enum(_MODES, request.mode, "mode"),
        explain=request.explain,
        document_fields=tuple(request.document_fields),
    )
    if dsl is not None:
        options = apply_overrides(options, dsl)
    return SearchCall(
        request.index,
        dsl.text if dsl is not None else request.query,
        options,
        request.explain,
        request.dense_field or DEFAULT_DENSE_FIELD,
        request.sparse_field or DEFAULT_SPARSE_FIELD,
        dsl,
    )


def hits(fused: list[FusedHit], explain: bool, documents: bool = False) -> list[search_pb2.Hit]:
    """Hits as messages: each retriever's rank and score with ``explain``, the stored
    fields asked for with ``documents``."""
    out = []
    for hit in fused:
        sources = (
            [
                search_pb2.RetrieverScore(retriever=name, rank=s.rank, score=s.score)
                for name, s in hit.sources.items()
            ]
            if explain
            else []
        )
        document = json.dumps(dict(hit.document)) if documents else ""
        out.append(
            search_pb2.Hit(id=hit.id, score=hit.score, retrievers=sources, document_json=document)
        )
    return out


def document(message: index_pb2.Document, position: int) -> Document:
    """One streamed document; ``position`` (1-based) names it in errors when it has no id."""
    where = f"document {position}"
    if not message.id.strip():
        raise InvalidRequest(f"{where}: id is empty; every document needs an id")
    text = {name: value for name, value in message.text.items()}
    for name in text:
        if not name.strip():
            raise InvalidRequest(f"{where} ({message.id}): a text field has an empty name")
    if not any(v.strip() for v in text.values()):
        raise InvalidRequest(f"{where} ({message.id}): text is empty; send at least one text field")
    meta = (
        json_object(message.metadata_json, f"{where} ({message.id}) metadata_json")
        if (message.metadata_json)
        else {}
    )
    clash = sorted(set(meta) & set(text))
    if clash:
        raise InvalidRequest(f"{where} ({message.id}): metadata repeats text fields {clash}")
    return Document(message.id, text, meta)

"""Protobuf messages to plain Python objects and back; nothing else imports ``tandem.v1``.

Request fields are validated here or by the domain objects they become
(:class:`~tandem.plugin.search.SearchOptions`, :class:`~tandem.plugin.index_spec.IndexSpec`);
every problem is a ``ValueError`` naming the field, which the error table
answers with ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tandem.encoders.pooling import FloatArray
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import SparseVector
from tandem.plugin.dsl_extension import TandemQuery, apply_overrides, parse_tandem_query
from tandem.plugin.fusion import FusedHit
from tandem.plugin.ingest.documents import Document
from tandem.plugin.query_policy import check_query
from tandem.plugin.search import SearchMethod, SearchOptions
from tandem.plugin.search_request import MAX_WINDOW
from tandem.plugin.server.encoding import Usage
from tandem.v1 import common_pb2, encode_pb2, index_pb2, search_pb2

_KINDS = {
    common_pb2.INPUT_KIND_UNSPECIFIED: InputKind.DOCUMENT,
    common_pb2.INPUT_KIND_QUERY: InputKind.QUERY,
    common_pb2.INPUT_KIND_DOCUMENT: InputKind.DOCUMENT,
}
_METHODS: dict[int, SearchMethod] = {
    search_pb2.SEARCH_METHOD_UNSPECIFIED: "rrf",
    search_pb2.SEARCH_METHOD_BM25: "bm25",
    search_pb2.SEARCH_METHOD_DENSE: "dense",
    search_pb2.SEARCH_METHOD_SPARSE: "sparse",
    search_pb2.SEARCH_METHOD_RRF: "rrf",
    search_pb2.SEARCH_METHOD_LINEAR: "linear",
}
_MODES: dict[int, Any] = {
    search_pb2.FUSION_MODE_UNSPECIFIED: "auto",
    search_pb2.FUSION_MODE_AUTO: "auto",
    search_pb2.FUSION_MODE_NATIVE: "native",
    search_pb2.FUSION_MODE_SIDECAR: "sidecar",
}
_NORMALIZATIONS: dict[int, Any] = {
    search_pb2.NORMALIZATION_UNSPECIFIED: "min_max",
    search_pb2.NORMALIZATION_MIN_MAX: "min_max",
    search_pb2.NORMALIZATION_Z_SCORE: "z_score",
    search_pb2.NORMALIZATION_L2: "l2",
}
RETRIEVERS = ("bm25", "dense", "sparse")
DEFAULT_K = 10
DEFAULT_WINDOW = 100
DEFAULT_RANK_CONSTANT = 60


def _enum(table: Mapping[Any, Any], value: int, field: str) -> Any:
    if value not in table:
        raise ValueError(f"{field}: unknown value {value}")
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


def json_object(text: str, field: str) -> dict[str, Any]:
    """Parse a JSON object field; anything else is a ``ValueError`` naming ``field``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{field} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be a JSON object, got {type(value).__name__}")
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


def search_call(request: search_pb2.SearchRequest, allow_scripts: bool = False) -> SearchCall:
    """The request as plain values; user filters and DSL must pass the query allow-list."""
    if not request.index.strip():
        raise ValueError("index is empty: name the index to search")
    dsl = None
    if request.query_dsl_json:
        if request.query:
            raise ValueError(
                "query and query_dsl_json are both set: put the text in the tandem clause"
            )
        try:
            raw = json.loads(request.query_dsl_json)
        except json.JSONDecodeError as err:
            raise ValueError(f"query_dsl_json is not valid JSON: {err}") from None
        dsl = parse_tandem_query(raw)
        check_query(raw, "query", allow_scripts)
    elif not request.query.strip():
        raise ValueError("query is empty: send the user's query text")
    for i, name in enumerate(request.fields):
        if not name.strip():
            raise ValueError(f"fields[{i}] is empty")
    weights = dict(request.weights)
    for name, weight in weights.items():
        if name not in RETRIEVERS:
            raise ValueError(f"weights[{name!r}]: unknown retriever; use {', '.join(RETRIEVERS)}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weights[{name!r}] is {weight}; weights must be finite and >= 0")
    filters = tuple(
        json_object(text, f"filters_json[{i}]") for i, text in enumerate(request.filters_json)
    )
    for i, clause in enumerate(filters):
        if not clause:
            raise ValueError(f"filters_json[{i}] is an empty object; send a query clause")
        check_query(clause, f"filters_json[{i}]", allow_scripts)
    for name in ("dense_field", "sparse_field"):
        value = getattr(request, name)
        if value and not value.strip():
            raise ValueError(f"{name} is blank: leave it unset for the default or name a field")
    k = request.k or DEFAULT_K
    start = getattr(request, "from")
    if k > MAX_WINDOW or start + k > MAX_WINDOW:
        raise ValueError(f"from + k is {start + k}; at most {MAX_WINDOW} hits can be paged")
    window = request.window or max(DEFAULT_WINDOW, start + k)
    if window > MAX_WINDOW:
        raise ValueError(f"window is {window}; engines return at most {MAX_WINDOW} candidates")
    options = SearchOptions(
        method=_enum(_METHODS, request.method, "method"),
        start=start,
        size=k,
        window=window,
        normalization=_enum(_NORMALIZATIONS, request.normalization, "normalization"),
        rank_constant=request.rank_constant or DEFAULT_RANK_CONSTANT,
        weights=weights,
        fields=tuple(request.fields) or ("title", "text"),
        filters=filters,
        mode=_enum(_MODES, request.mode, "mode"),
        explain=request.explain,
    )
    if dsl is not None:
        options = apply_overrides(options, dsl)
    return SearchCall(
        request.index,
        dsl.text if dsl is not None else request.query,
        options,
        request.explain,
        request.dense_field or "embedding",
        request.sparse_field or "sparse",
        dsl,
    )


def hits(fused: list[FusedHit], explain: bool) -> list[search_pb2.Hit]:
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
        out.append(search_pb2.Hit(id=hit.id, score=hit.score, retrievers=sources))
    return out


def document(message: index_pb2.Document, position: int) -> Document:
    """One streamed document; ``position`` (1-based) names it in errors when it has no id."""
    where = f"document {position}"
    if not message.id.strip():
        raise ValueError(f"{where}: id is empty; every document needs an id")
    text = {name: value for name, value in message.text.items()}
    for name in text:
        if not name.strip():
            raise ValueError(f"{where} ({message.id}): a text field has an empty name")
    if not any(v.strip() for v in text.values()):
        raise ValueError(f"{where} ({message.id}): text is empty; send at least one text field")
    meta = (
        json_object(message.metadata_json, f"{where} ({message.id}) metadata_json")
        if (message.metadata_json)
        else {}
    )
    clash = sorted(set(meta) & set(text))
    if clash:
        raise ValueError(f"{where} ({message.id}): metadata repeats text fields {clash}")
    return Document(message.id, text, meta)

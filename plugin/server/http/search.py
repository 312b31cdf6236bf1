"""``POST /v1/search`` and ``POST /v1/rewrite``: ``SearchRequest`` as plain JSON.

The request takes the message's fields with their proto names, with three
changes for JSON: enums are their short names (``"method": "rrf"``), and the
``*_json`` string fields are JSON values (``filters``: an array of query objects,
``query_dsl``: the query object with its ``tandem`` clause). The answer has the
shape ``tandem search --json`` prints, with ``document`` in place of ``snippet``.
Both become the same ``SearchRequest`` the gRPC face receives, so every check and
error is shared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from tandem.plugin.search.extension import parse_tandem_query
from tandem.plugin.search.hits import score
from tandem.v1 import common_pb2, search_pb2

from ..search_service import RewriteServicer, SearchServicer
from .bodies import boolean, count, json_type, string, strings
from .problems import bad_request

METHODS = {
    "bm25": search_pb2.SEARCH_METHOD_BM25,
    "dense": search_pb2.SEARCH_METHOD_DENSE,
    "sparse": search_pb2.SEARCH_METHOD_SPARSE,
    "rrf": search_pb2.SEARCH_METHOD_RRF,
    "linear": search_pb2.SEARCH_METHOD_LINEAR,
}
NORMALIZATIONS = {
    "min_max": search_pb2.NORMALIZATION_MIN_MAX,
    "z_score": search_pb2.NORMALIZATION_Z_SCORE,
    "l2": search_pb2.NORMALIZATION_L2,
}
MODES = {
    "auto": search_pb2.FUSION_MODE_AUTO,
    "native": search_pb2.FUSION_MODE_NATIVE,
    "sidecar": search_pb2.FUSION_MODE_SIDECAR,
}
FIELDS = (
    "index",
    "query",
    "k",
    "from",
    "fields",
    "method",
    "normalization",
    "weights",
    "window",
    "rank_constant",
    "filters",
    "explain",
    "dense_field",
    "sparse_field",
    "mode",
    "query_dsl",
    "document_fields",
)


def _enum(body: Mapping[str, Any], name: str, table: Mapping[str, int]) -> int:
    value = string(body, name)
    if not value:
        return 0
    if value.lower() not in table:
        raise bad_request(f"{name} must be one of {', '.join(table)}, got {value!r}")
    return table[value.lower()]


def _weights(body: Mapping[str, Any]) -> dict[str, float]:
    value = body.get("weights")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"weights must be an object of retriever: number, got {json_type(value)}")
    out = {}
    for name, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise bad_request(f"weights.{name} must be a number, got {json_type(weight)}")
        if not math.isfinite(weight):
            raise bad_request(f"weights.{name} must be a finite number")
        out[name] = float(weight)
    return out


def _filters(body: Mapping[str, Any]) -> list[str]:
    value = body.get("filters")
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"filters must be an array of query objects, got {json_type(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(f"filters[{i}] must be a query object, got {json_type(item)}")
    return [json.dumps(item) for item in value]


def search_request(body: Mapping[str, Any]) -> search_pb2.SearchRequest:
    """The JSON body as the message the gRPC face receives (types checked here, values by
    the same code that checks a gRPC request)."""
    dsl = body.get("query_dsl")
    if dsl is not None and not isinstance(dsl, dict):
        raise bad_request(f"query_dsl must be a query object, got {json_type(dsl)}")
    request = search_pb2.SearchRequest(
        index=string(body, "index"),
        query=string(body, "query"),
        k=count(body, "k"),
        fields=strings(body, "fields"),
        method=_enum(body, "method", METHODS),  # type: ignore[arg-type]
        normalization=_enum(body, "normalization", NORMALIZATIONS),  # type: ignore[arg-type]
        weights=_weights(body),
        window=count(body, "window"),
        rank_constant=count(body, "rank_constant"),
        filters_json=_filters(body),
        explain=boolean(body, "explain", False),
        dense_field=string(body, "dense_field"),
        sparse_field=string(body, "sparse_field"),
        mode=_enum(body, "mode", MODES),  # type: ignore[arg-type]
        query_dsl_json=json.dumps(dsl) if dsl is not None else "",
        document_fields=strings(body, "document_fields"),
    )
    setattr(request, "from", count(body, "from"))
    return request


def _timings(meta: common_pb2.ResponseMetadata) -> dict[str, Any]:
    return {
        "encode_ms": round(meta.queue_ms + meta.inference_ms, 3),
        "engine_ms": round(meta.engine_ms, 3),
        "total_ms": round(meta.total_ms, 3),
        "tokens": meta.tokens,
    }


def search_answer(
    request: search_pb2.SearchRequest, response: search_pb2.SearchResponse
) -> dict[str, Any]:
    """The answer in ``tandem search --json``'s envelope."""
    start = getattr(request, "from")
    hits = [
        {
            "rank": rank,
            "id": hit.id,
            "score": score(hit.score),
            "retrievers": {
                r.retriever: {"rank": r.rank, "score": score(r.score)} for r in hit.retrievers
            },
            "document": json.loads(hit.document_json) if hit.document_json else None,
        }
        for rank, hit in enumerate(response.hits, start=start + 1)
    ]
    text = request.query
    method = next((name for name, v in METHODS.items() if v == request.method), "rrf")
    if request.query_dsl_json:  # already checked: the search ran
        dsl = parse_tandem_query(json.loads(request.query_dsl_json))
        text, method = dsl.text, str(dsl.overrides.get("method", method))
    return {
        "index": request.index,
        "query": text,
        "method": method,
        "mode": response.mode,
        "partial": response.partial,
        "timed_out": response.timed_out,
        "shard_failures": list(response.shard_failures),
        "timings": _timings(response.metadata),
        "hits": hits,
    }


def rewrite_answer(response: search_pb2.RewriteResponse) -> dict[str, Any]:
    """The engine requests by retriever, and the pipeline a native hybrid search carries."""
    return {
        "index": response.index,
        "mode": response.mode,
        "queries": {q.retriever: json.loads(q.body_json) for q in response.queries},
        "pipeline_body": json.loads(response.pipeline_body_json)
        if response.pipeline_body_json
        else None,
        "timings": _timings(response.metadata),
    }


async def search(
    servicer: SearchServicer, body: Mapping[str, Any], remaining: Callable[[], float | None]
) -> Any:
    request = search_request(body)
    return search_answer(request, await servicer.search(request, remaining))


async def rewrite(servicer: RewriteServicer, body: Mapping[str, Any]) -> Any:
    return rewrite_answer(await servicer.rewrite(search_request(body)))

"""One query clause per retriever (BM25, dense kNN, sparse) for one engine.

These are the pieces :mod:`tandem.plugin.search.rewriter` assembles into whole search
bodies: the same clause serves a retriever's own search (sidecar fusion), a
sub-query of OpenSearch's ``hybrid`` query and an Elasticsearch retriever, so
the three can never drift apart. Everything is a plain dict built field by
field: user text and filters are placed as values, never parsed or spliced
into JSON text.

User filters go into every clause, and where the engine allows it before the
ranking cut: inside ``knn`` (a pre-filter, so kNN still returns ``window``
matching documents); elsewhere in a ``bool`` whose ``filter`` does not score.
Each call copies the filters afresh, so no two clauses share a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tandem.plugin.engines.base import Capabilities, Json
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.mapping import OPENSEARCH_SPARSE_VECTOR_REFUSAL
from tandem.plugin.index.spec import PASSAGE_VECTOR, SparseType
from tandem.plugin.index.terms import encode_term

from .names import MAX_WINDOW
from .request import SearchRequest

# Elasticsearch's kNN explores num_candidates per shard: twice the window, at
# least 100 (its usual default), at most 10000 (its hard limit).
MIN_CANDIDATES = 100


BM25_TYPE = "cross_fields"


def plain_json(value: Any) -> Any:
    """A deep copy of ``value`` with every mapping a dict and every list or tuple a list."""
    if isinstance(value, Mapping):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    return value


def user_filters(req: SearchRequest) -> list[Json]:
    """Fresh copies of the request's filter clauses, in order."""
    return [plain_json(clause) for clause in req.filters]


def filtered(query: Json, req: SearchRequest) -> Json:
    """``query`` scored as is, restricted by the request's filters (``query`` itself if none)."""
    filters = user_filters(req)
    if not filters:
        return query
    return {"bool": {"must": [query], "filter": filters}}


def num_candidates(window: int) -> int:
    """Elasticsearch's ``num_candidates`` for a kNN that returns ``window`` hits."""
    return min(max(2 * window, MIN_CANDIDATES), MAX_WINDOW)


def bm25_query(req: SearchRequest) -> Json:
    """BM25 over ``req.fields``: a ``cross_fields`` ``multi_match`` of the text, filtered.

    ``cross_fields`` scores the fields as one (each term's best field, document
    frequencies blended), and groups fields by analyzer, so an index whose fields differ
    in analysis still works (``combined_fields`` would refuse it). It beat
    ``best_fields``, ``most_fields`` and ``combined_fields`` on SciFact
    (benchmarks/lexical.py)."""
    match = {"multi_match": {"query": req.text, "fields": list(req.fields), "type": BM25_TYPE}}
    return filtered(match, req)


def knn_field(req: SearchRequest) -> str:
    """The vector field kNN searches: the dense field, or its passages' vectors."""
    return f"{req.dense_field}.{PASSAGE_VECTOR}" if req.passages else req.dense_field


def opensearch_knn_query(req: SearchRequest, caps: Capabilities) -> Json:
    """OpenSearch's ``knn`` query clause: ``window`` neighbours, filters inside as a pre-filter.

    Over passages, the ``knn`` query sits in a ``nested`` query: kNN then returns
    ``window`` documents (Lucene diversifies over parents) and each scores as its best
    passage; filters on the document's own fields still apply before the cut."""
    vector = _query_vector(req, caps, EngineKind.OPENSEARCH)
    clause: Json = {"vector": vector, "k": req.window}
    filters = user_filters(req)
    if filters:
        clause["filter"] = {"bool": {"filter": filters}}
    knn: Json = {"knn": {knn_field(req): clause}}
    if not req.passages:
        return knn
    return {"nested": {"path": req.dense_field, "query": knn, "score_mode": "max"}}


def elasticsearch_knn(req: SearchRequest, caps: Capabilities) -> Json:
    """Elasticsearch's ``knn`` object (the search section or a ``knn`` retriever's body).

    Over passages it names the nested vector field: Elasticsearch then returns
    ``window`` documents, each scored as its best passage."""
    vector = _query_vector(req, caps, EngineKind.ELASTICSEARCH)
    knn: Json = {
        "field": knn_field(req),
        "query_vector": vector,
        "k": req.window,
        "num_candidates": num_candidates(req.window),
    }
    filters = user_filters(req)
    if filters:
        knn["filter"] = filters
    return knn


def sparse_query(req: SearchRequest, caps: Capabilities, sparse_type: SparseType) -> Json:
    """The sparse retriever's query clause for a field of ``sparse_type``, filtered.

    OpenSearch: ``neural_sparse`` with raw ``query_tokens`` on ``rank_features``
    when neural-search is installed, otherwise a sum of ``rank_feature`` clauses
    (``linear``, boosted by the query weight: the same dot product); its
    ``sparse_vector`` field raises :class:`CapabilityError` (it is keyed by
    token ids; see :mod:`tandem.plugin.index.mapping`). Elasticsearch: the
    ``sparse_vector`` query with ``"prune": false``, or the ``rank_feature`` sum
    on ``rank_features``. Term names are encoded with
    :func:`~tandem.plugin.index.terms.encode_term`, as the ingest side stores them.

    Every form scores the exact dot product of query and document weights, so
    fused scores mean the same on every engine.
    Elasticsearch's default token pruning (fields of indices created by 9.1+)
    would drop frequent low-weight query tokens, and with them every document
    that matches only those (tests/integration/test_rewriter_on_engines.py).
    """
    terms = _sparse_terms(req)
    _check_sparse_type(caps, sparse_type)
    field = req.sparse_field
    if caps.kind is EngineKind.OPENSEARCH:
        if caps.neural_sparse:
            tokens = {encode_term(t): w for t, w in terms.items()}
            return filtered({"neural_sparse": {field: {"query_tokens": tokens}}}, req)
        return filtered(_rank_feature_sum(field, terms), req)
    if sparse_type == "sparse_vector":
        vector = {encode_term(t): w for t, w in terms.items()}
        # Pruning (the field default since 9.1) drops a query token whose document
        # frequency is at least 5x the field's average and whose weight is at most 0.4x
        # the query's largest: the score would no longer be the dot product.
        clause: Json = {"field": field, "query_vector": vector, "prune": False}
        return filtered({"sparse_vector": clause}, req)
    return filtered(_rank_feature_sum(field, terms), req)


def _query_vector(req: SearchRequest, caps: Capabilities, kind: EngineKind) -> list[float]:
    if caps.kind is not kind:
        raise ValueError(f"this builder writes {kind.label} DSL, but the engine is {caps.label}")
    if req.vector is None:
        raise ValueError("the dense retriever needs the query vector; encode the query first")
    if not caps.dense:
        plugin = " (install the opensearch-knn plugin)" if kind is EngineKind.OPENSEARCH else ""
        raise CapabilityError(f"{caps.label} has no dense vector search{plugin}")
    return list(req.vector)


def _sparse_terms(req: SearchRequest) -> Mapping[str, float]:
    if not req.sparse_terms:
        raise ValueError("the sparse retriever needs sparse_terms; encode the query first")
    return req.sparse_terms


def _check_sparse_type(caps: Capabilities, sparse_type: SparseType) -> None:
    opensearch = caps.kind is EngineKind.OPENSEARCH
    if opensearch and sparse_type == "sparse_vector":
        raise CapabilityError(f"{caps.label}: {OPENSEARCH_SPARSE_VECTOR_REFUSAL}")
    searchable = [t for t in caps.sparse_field_types if not (opensearch and t == "sparse_vector")]
    if sparse_type not in searchable:
        usable = ", ".join(searchable) or "none"
        raise CapabilityError(
            f"{caps.label} cannot search a {sparse_type} field (sparse types here: {usable}); "
            "use the type tandem.plugin.index.mapping.sparse_field_type chose for the index"
        )


def _rank_feature_sum(field: str, terms: Mapping[str, float]) -> Json:
    # linear: the score is the stored weight itself, so the sum is the dot product.
    should = [
        {"rank_feature": {"field": f"{field}.{encode_term(t)}", "boost": w, "linear": {}}}
        for t, w in terms.items()
    ]
    return {"bool": {"should": should}}

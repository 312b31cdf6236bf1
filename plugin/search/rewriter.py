"""Search bodies for each retriever, and for fusion inside the engine.

Pure functions from a :class:`~tandem.plugin.search.request.SearchRequest` and
the engine's :class:`~tandem.plugin.engines.base.Capabilities` to request
bodies (plain dicts, never JSON text); nothing here talks to an engine.

* :func:`bm25_body`, :func:`dense_body`, :func:`sparse_body`: one retriever's
  search, ``size`` = the candidate window, for sidecar fusion over one
  ``_msearch``. Every body carries ``"_source": False``: fusion needs only ids
  and scores, and leaving out stored text and vectors keeps responses small.
* :func:`hybrid_body` with :func:`pipeline_body`: OpenSearch's ``hybrid`` query
  and the search pipeline that fuses it (sent inside the request, see
  :mod:`tandem.plugin.search.native`).
* :func:`retriever_body`: Elasticsearch's ``rrf`` / ``linear`` retrievers.

What the engine lacks raises :class:`~tandem.plugin.engines.errors.CapabilityError`
(the caller falls back to sidecar fusion); a request that cannot make sense
on any engine raises ``ValueError``. Inference-free sparse models need no DSL
of their own: their query side is the same sparse query with IDF weights as
``sparse_terms``.

Weights are given per retriever, in the order of ``retrievers``. Where the
engine scores a weighted mean (both ``linear`` methods, and OpenSearch's
pipelines, which refuse weights that do not sum to 1) they are written as
shares summing to 1, as :mod:`tandem.plugin.search.fusion` uses them; Elasticsearch's
weighted RRF multiplies each ``1 / (k + rank)`` by the weight as given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tandem.plugin.engines.base import Capabilities, Json
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.spec import SparseType

from .names import DEFAULT_RANK_CONSTANT, FUSION_METHODS, NORMALIZATIONS, RETRIEVERS
from .query_dsl import (
    bm25_query,
    elasticsearch_knn,
    opensearch_knn_query,
    sparse_query,
)
from .request import SearchRequest

# OpenSearch: hybrid.pagination_depth (candidates per sub-query and shard) since
# 2.19; without it each sub-query keeps only from + size, so hybrid_body asks for
# window hits there. RRF weights since 3.1. A search pipeline defined in the request
# body (request-scoped, nothing stored) since 2.9, when search pipelines became GA;
# the hybrid query came in 2.10, so every OpenSearch with it takes one.
PAGINATION_DEPTH_SINCE = (2, 19, 0)
PIPELINE_RRF_WEIGHTS_SINCE = (3, 1, 0)
REQUEST_PIPELINE_SINCE = (2, 9, 0)
# Elasticsearch: weighted rrf retrievers since 9.2, the l2_norm normalizer since 9.1.
RETRIEVER_RRF_WEIGHTS_SINCE = (9, 2, 0)
RETRIEVER_L2_NORM_SINCE = (9, 1, 0)
_ES_NORMALIZERS = {"min_max": "minmax", "l2": "l2_norm"}


def bm25_body(req: SearchRequest, caps: Capabilities) -> Json:
    """BM25 alone: ``multi_match`` (``cross_fields``) of the text over ``req.fields``."""
    return _light(req.window, query=bm25_query(req))


def dense_body(req: SearchRequest, caps: Capabilities) -> Json:
    """kNN alone: ``window`` neighbours of ``req.vector``, filters applied before the cut.

    OpenSearch gets a ``knn`` query with the filter inside it; Elasticsearch the
    top-level ``knn`` section with ``num_candidates`` = twice the window (100..10000).
    """
    if caps.kind is EngineKind.OPENSEARCH:
        return _light(req.window, query=opensearch_knn_query(req, caps))
    return _light(req.window, knn=elasticsearch_knn(req, caps))


def sparse_body(req: SearchRequest, caps: Capabilities, sparse_type: SparseType) -> Json:
    """The sparse retriever alone, for a field of ``sparse_type``.

    ``sparse_type`` is what :func:`tandem.plugin.index.mapping.sparse_field_type`
    chose for the index; see :func:`tandem.plugin.search.query_dsl.sparse_query`.
    The same body serves SPLADE queries and inference-free (IDF-weighted) ones.
    """
    return _light(req.window, query=sparse_query(req, caps, sparse_type))


def hybrid_body(
    req: SearchRequest,
    caps: Capabilities,
    retrievers: Sequence[str],
    *,
    sparse_type: SparseType | None = None,
) -> Json:
    """OpenSearch's ``hybrid`` query over ``retrievers`` (``bm25``, ``dense``, ``sparse``).

    Run it with the search pipeline of :func:`pipeline_body`; pipeline weights
    follow the order of ``retrievers``. Filters go inside each sub-query
    (OpenSearch 2.19 refuses ``hybrid.filter``). Each sub-query keeps ``window``
    candidates per shard: since 2.19 through ``pagination_depth`` with ``size`` =
    ``k``; before, ``size`` is the window itself (each sub-query keeps ``size``
    hits there) and the caller cuts the first ``k``. ``sparse_type`` is needed
    with ``sparse``.
    """
    names = _check_retrievers(retrievers)
    if caps.kind is not EngineKind.OPENSEARCH or not caps.hybrid_query:
        raise CapabilityError(
            f"{caps.label} has no hybrid query (OpenSearch 2.10+ with the neural-search "
            "plugin); fuse in the sidecar instead"
        )
    queries = [_opensearch_sub_query(name, req, caps, sparse_type) for name in names]
    hybrid: Json = {"queries": queries}
    if caps.version < PAGINATION_DEPTH_SINCE:
        return _light(req.window, query={"hybrid": hybrid})
    hybrid["pagination_depth"] = req.window
    return _light(req.k, query={"hybrid": hybrid})


def retriever_body(
    req: SearchRequest,
    caps: Capabilities,
    retrievers: Sequence[str],
    *,
    method: str = "rrf",
    normalization: str = "min_max",
    weights: Sequence[float] | None = None,
    rank_constant: int = DEFAULT_RANK_CONSTANT,
    sparse_type: SparseType | None = None,
) -> Json:
    """Elasticsearch's ``rrf`` or ``linear`` retriever over ``retrievers``.

    Children: a ``standard`` retriever with the BM25 query, a ``knn``
    retriever, a ``standard`` retriever with the sparse query, in the order
    given. ``rank_window_size`` is the window and ``size`` is ``k``.
    ``normalization`` applies to ``linear`` (``min_max`` or ``l2``; the
    retriever has no z-score), ``rank_constant`` to ``rrf``. These retrievers
    need an Enterprise (or trial) licence: without one, CapabilityError.
    """
    names = _check_retrievers(retrievers)
    _check_method(method)
    if caps.kind is not EngineKind.ELASTICSEARCH:
        raise CapabilityError(
            f"retrievers are Elasticsearch's; on {caps.label} use hybrid_body with a pipeline"
        )
    if method not in caps.retrievers:
        have = ", ".join(caps.retrievers) or "none"
        raise CapabilityError(
            f"{caps.label} (licence {caps.license or 'unknown'}) has no {method!r} retriever "
            f"(available: {have}; they need an Enterprise licence and the rank-rrf module); "
            "fuse in the sidecar instead"
        )
    if weights is not None and len(weights) != len(names):
        raise ValueError(f"got {len(weights)} weights for {len(names)} retrievers {names}")
    children = [_elasticsearch_retriever(name, req, caps, sparse_type) for name in names]
    if method == "rrf":
        return _light(req.k, retriever={"rrf": _rrf(req, caps, children, weights, rank_constant)})
    normalizer = _es_normalizer(normalization, caps)
    shares = _shares(weights) if weights is not None else [1 / len(names)] * len(names)
    components = [
        {"retriever": child, "weight": share, "normalizer": normalizer}
        for child, share in zip(children, shares, strict=True)
    ]
    linear = {"retrievers": components, "rank_window_size": req.window}
    return _light(req.k, retriever={"linear": linear})


def pipeline_body(
    method: str,
    normalization: str | None,
    weights: Sequence[float] | None,
    rank_constant: int,
    *,
    caps: Capabilities,
) -> Json:
    """The OpenSearch search pipeline that fuses a :func:`hybrid_body` query.

    ``linear``: a normalization-processor (``normalization`` = ``min_max``,
    ``l2`` or ``z_score``; arithmetic mean, ``weights`` as shares). ``rrf``: a
    score-ranker-processor with ``rank_constant``. ``weights`` follow the
    hybrid query's sub-queries; ``None`` weighs them equally. ``normalization``
    is ignored for ``rrf`` and ``rank_constant`` for ``linear``, so each
    distinct pipeline has one body.
    """
    _check_method(method)
    if caps.kind is not EngineKind.OPENSEARCH:
        raise CapabilityError(f"search pipelines are OpenSearch's, not {caps.label}'s")
    if method == "rrf":
        if not caps.rrf_pipeline:
            raise CapabilityError(
                f"{caps.label} has no RRF score-ranker-processor (neural-search 2.19+); "
                "fuse in the sidecar instead"
            )
        if weights is not None and caps.version < PIPELINE_RRF_WEIGHTS_SINCE:
            raise CapabilityError(
                f"{caps.label} has no per-retriever RRF weights (OpenSearch 3.1+); "
                "drop the weights or fuse in the sidecar"
            )
    else:
        _check_normalization(normalization)
        if normalization not in caps.normalization_techniques:
            have = ", ".join(caps.normalization_techniques) or "none"
            raise CapabilityError(
                f"{caps.label} has no {normalization} normalization (available: {have}); "
                "choose another or fuse in the sidecar"
            )
    return _pipeline(method, normalization, weights, rank_constant)


def _light(size: int, **section: Json) -> Json:
    return {"size": size, "_source": False, **section}


def _check_retrievers(retrievers: Sequence[str]) -> list[str]:
    if isinstance(retrievers, str):
        raise ValueError(f"retrievers must be a sequence of names, got {retrievers!r}")
    names = list(retrievers)
    unknown = [n for n in names if n not in RETRIEVERS]
    if unknown:
        raise ValueError(f"unknown retrievers {unknown}; use some of {RETRIEVERS}")
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(
            f"fusion needs two or three distinct retrievers of {RETRIEVERS}, got {names}; "
            "for one retriever use its own body"
        )
    return names


def _check_method(method: str) -> None:
    if method not in FUSION_METHODS:
        raise ValueError(f"unknown fusion method {method!r}; use one of {FUSION_METHODS}")


def _check_normalization(normalization: str | None) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; use one of {NORMALIZATIONS}")


def _check_rank_constant(rank_constant: int) -> None:
    if isinstance(rank_constant, bool) or not isinstance(rank_constant, int) or rank_constant < 1:
        raise ValueError(
            f"rank_constant must be an integer >= 1 (60 is usual), got {rank_constant!r}"
        )


def _weights(weights: Sequence[float]) -> list[float]:
    if isinstance(weights, str) or not weights:
        raise ValueError(f"weights must be a non-empty sequence of numbers, got {weights!r}")
    values = [float(w) for w in weights]
    if any(not math.isfinite(w) or w < 0 for w in values) or not any(values):
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {list(weights)}")
    return values


def _shares(weights: Sequence[float]) -> list[float]:
    values = _weights(weights)
    total = math.fsum(values)
    return [w / total for w in values]


def _pipeline(
    method: str, normalization: str | None, weights: Sequence[float] | None, rank_constant: int
) -> Json:
    _check_method(method)
    combination: Json
    if method == "rrf":
        _check_rank_constant(rank_constant)
        combination = {"technique": "rrf", "rank_constant": rank_constant}
        processor = "score-ranker-processor"
        config: Json = {"combination": combination}
    else:
        _check_normalization(normalization)
        combination = {"technique": "arithmetic_mean"}
        processor = "normalization-processor"
        config = {"normalization": {"technique": normalization}, "combination": combination}
    if weights is not None:
        combination["parameters"] = {"weights": _shares(weights)}
    return {"phase_results_processors": [{processor: config}]}


def _opensearch_sub_query(
    name: str, req: SearchRequest, caps: Capabilities, sparse_type: SparseType | None
) -> Json:
    if name == "bm25":
        return bm25_query(req)
    if name == "dense":
        return opensearch_knn_query(req, caps)
    return _sparse(req, caps, sparse_type)


def _elasticsearch_retriever(
    name: str, req: SearchRequest, caps: Capabilities, sparse_type: SparseType | None
) -> Json:
    if name == "bm25":
        return {"standard": {"query": bm25_query(req)}}
    if name == "dense":
        return {"knn": elasticsearch_knn(req, caps)}
    return {"standard": {"query": _sparse(req, caps, sparse_type)}}


def _sparse(req: SearchRequest, caps: Capabilities, sparse_type: SparseType | None) -> Json:
    if sparse_type is None:
        raise ValueError("the sparse retriever needs sparse_type (see mapping.sparse_field_type)")
    return sparse_query(req, caps, sparse_type)


def _rrf(
    req: SearchRequest,
    caps: Capabilities,
    children: list[Json],
    weights: Sequence[float] | None,
    rank_constant: int,
) -> Json:
    _check_rank_constant(rank_constant)
    entries = children
    if weights is not None:
        if caps.version < RETRIEVER_RRF_WEIGHTS_SINCE:
            raise CapabilityError(
                f"{caps.label} has no weighted rrf retriever (Elasticsearch 9.2+); drop the "
                "weights or fuse in the sidecar"
            )
        raw = _weights(weights)
        entries = [{"retriever": c, "weight": w} for c, w in zip(children, raw, strict=True)]
    return {"retrievers": entries, "rank_window_size": req.window, "rank_constant": rank_constant}


def _es_normalizer(normalization: str, caps: Capabilities) -> str:
    _check_normalization(normalization)
    if normalization not in _ES_NORMALIZERS:
        raise CapabilityError(
            f"Elasticsearch's linear retriever has no {normalization} normalizer (it has "
            "min_max and, since 9.1, l2); choose one of those or fuse in the sidecar"
        )
    if normalization == "l2" and caps.version < RETRIEVER_L2_NORM_SINCE:
        raise CapabilityError(
            f"{caps.label}'s linear retriever has no l2_norm normalizer (9.1+); use min_max "
            "or fuse in the sidecar"
        )
    return _ES_NORMALIZERS[normalization]

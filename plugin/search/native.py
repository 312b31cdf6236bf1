"""Engine-native fusion: is it possible for this search, and with which request?

:func:`native_plan` turns a hybrid search into the engine's own fusion
request: OpenSearch's ``hybrid`` query with its search pipeline inside the
request body (a normalization-processor for ``linear``, a
score-ranker-processor for ``rrf``), so no pipeline is ever stored on the
cluster; or Elasticsearch's ``rrf`` / ``linear`` retriever where the licence
has them. When the engine cannot do what was asked (no neural-search plugin,
no licence, a normalisation it lacks, weights it cannot take) it raises
:class:`~tandem.plugin.engines.errors.CapabilityError` with the reason, and
``auto`` mode falls back to sidecar fusion. Pure: nothing here talks to an
engine.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from tandem.plugin.engines.base import Capabilities, Json
from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.spec import SparseType

from .request import SearchRequest
from .rewriter import REQUEST_PIPELINE_SINCE, hybrid_body, pipeline_body, retriever_body


@dataclass(frozen=True)
class NativePlan:
    """One engine request that fuses inside the engine.

    ``body`` asks for at least the first ``start + size`` fused hits; the caller
    slices the page. On OpenSearch, ``pipeline_body`` is the search pipeline
    that fuses the hybrid query; it travels inside ``body`` as
    ``search_pipeline`` (request-scoped: nothing is created on the cluster).
    """

    body: Json
    pipeline_body: Json | None = None


def native_plan(
    request: SearchRequest,
    caps: Capabilities,
    retrievers: tuple[str, ...],
    *,
    method: str,
    normalization: str,
    weights: dict[str, float],
    rank_constant: int,
    sparse_type: SparseType | None,
) -> NativePlan:
    """The native request for a ``method`` (``rrf`` or ``linear``) fusion of ``retrievers``.

    ``request.k`` must already be ``start + size``.
    """
    if len(retrievers) < 2:
        raise CapabilityError("native fusion needs at least two retrievers")
    ordered = [weights.get(name, 1.0) for name in retrievers] if weights else None
    if caps.kind is EngineKind.OPENSEARCH:
        if caps.version < REQUEST_PIPELINE_SINCE:
            raise CapabilityError(
                f"{caps.label} takes no search pipeline in the request (OpenSearch 2.9+), "
                "and Tandem stores none on the cluster; fuse in the sidecar instead"
            )
        pipeline = pipeline_body(method, normalization, ordered, rank_constant, caps=caps)
        body = hybrid_body(request, caps, retrievers, sparse_type=sparse_type)
        return NativePlan({**body, "search_pipeline": pipeline}, copy.deepcopy(pipeline))
    body = retriever_body(
        request,
        caps,
        retrievers,
        method=method,
        normalization=normalization,
        weights=ordered,
        rank_constant=rank_constant,
        sparse_type=sparse_type,
    )
    return NativePlan(body)


# Past this many documents, ``auto`` fuses OpenSearch hybrid searches in the sidecar:
# the hybrid query's cost grows much faster with the index than _msearch's. Measured
# (docs/scale.md, one shard): the same p50 at 10^4 documents; at 10^6, 516 ms native
# against 104 ms in the sidecar. At 10^5 native took 117 ms while its three legs alone
# took 14, 34 and 36 ms (the sidecar's fusion there was not measured): the crossing
# lies between 10^4 and 10^5, and 50,000 is the middle of that bracket, on the log scale.
NATIVE_MAX_DOCS = 50_000


def auto_skips_native(
    caps: Capabilities,
    method: str,
    normalization: str,
    shards: int | None = 1,
    docs: int | None = None,
) -> str | None:
    """Why ``auto`` keeps a search in the sidecar although the engine could fuse it.

    OpenSearch floors negative z-scores at 0.001 before combining, so its native
    ``z_score`` ranks differ from the textbook z-score the sidecar computes
    (measured: 9 of 60 SciFact top-10 lists identical). On an index of several
    shards (``shards``) its native fusion depends on the sharding: each retriever is
    normalised over the union of every shard's own top hits, not over its global top
    hits, and RRF ranks documents by Lucene doc ids, which repeat across shards
    (measured on 3 shards over 3 nodes: 12 of 20 SciFact top-10 lists differ from
    the sidecar's with ``linear``/``min_max``, 2 of 20 with ``rrf``; none on one
    shard). On an index of more than :data:`NATIVE_MAX_DOCS` documents (``docs``) the
    ``hybrid`` query is the slower way to fuse. ``native`` mode still runs them on
    request.
    """
    if caps.kind is not EngineKind.OPENSEARCH:
        return None
    if method == "linear" and normalization == "z_score":
        return "OpenSearch's z_score floors negative scores; sidecar fusion keeps them"
    if shards is not None and shards > 1:
        return f"OpenSearch's native fusion depends on the index's {shards} shards"
    if docs is not None and docs > NATIVE_MAX_DOCS:
        return (
            f"OpenSearch's hybrid query is slower than fusing _msearch results on an index "
            f"of {docs:,} documents (more than {NATIVE_MAX_DOCS:,})"
        )
    return None


def page_request(request: SearchRequest, start: int, size: int) -> SearchRequest:
    """``request`` asking for the first ``start + size`` hits (engines page from the top)."""
    return replace(request, k=start + size, window=max(request.window, start + size))

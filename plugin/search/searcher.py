"""Hybrid search in the sidecar: encode the query, one ``_msearch``, fuse, paginate.

Each retriever (BM25, dense kNN, sparse) becomes one sub-search of a single
``_msearch`` round trip; :mod:`tandem.plugin.search.fusion` combines their ranked
lists, so hybrid search works on every engine and licence tier. A single
method (``bm25``, ``dense`` or ``sparse``) runs its one retriever. The
engine-native mode (OpenSearch ``hybrid`` with a request-scoped search
pipeline, Elasticsearch retrievers) comes from :mod:`tandem.plugin.search.native`.
Shard failures and engine timeouts inside a response are reported on the
result, or refused, as the operator's :mod:`tandem.plugin.search.partial`
policy says. A retriever that failed or found nothing is checked against the
index's mapping, so a missing field is named (:mod:`tandem.plugin.search.diagnose`).
Stored fields the caller asks for (``document_fields``) come from one more request
for the page's hits only (:mod:`tandem.plugin.search.documents`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import SparseVector
from tandem.encoders.stages import note, stage
from tandem.plugin.engines.base import Completeness, EngineAdapter, Json
from tandem.plugin.engines.errors import CapabilityError, EngineBadRequest, error_for_status
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.engines.responses import completeness
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD, SparseType

from .diagnose import engine_reason, first_problem, read_mapping
from .documents import fetch_documents
from .extension import TandemQuery, embed_bodies, embed_native
from .fusion import FusionConfig, RetrieverHits, fuse, paginate
from .hits import FusedHit
from .layout import LayoutChanged, PassageLayouts
from .native import (
    NativePlan,
    auto_skips_native,
    native_plan,
    page_request,
)
from .options import SearchOptions
from .partial import PartialResults, PartialResultsError, check_partial_results
from .policy import QueryPolicy
from .request import SearchRequest
from .rewriter import bm25_body, dense_body, sparse_body
from .shards import IndexSizes


class SparseQueryEncoder(Protocol):
    """Anything that turns query texts into sparse vectors (SPLADE, or IDF-only)."""

    def encode(self, texts: Sequence[str]) -> list[SparseVector]: ...


@dataclass(frozen=True)
class EncodedQuery:
    """A query already encoded elsewhere (the sidecar's batchers): either part may be absent."""

    vector: Sequence[float] | None = None
    sparse_terms: Mapping[str, float] | None = None


@dataclass(frozen=True)
class SearchResult:
    """A page of hits. ``mode`` says where fusion ran: ``sidecar``, ``native`` or
    ``single`` (one retriever, nothing to fuse); native hits carry no explain data.

    ``timed_out`` and ``shard_failures`` say the engine answered from part of the
    data (``partial``): the hits are what the shards that answered in time found.
    """

    hits: list[FusedHit]
    encode_ms: float
    engine_ms: float
    fusion_ms: float
    mode: str = "sidecar"
    timed_out: bool = False
    shard_failures: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        return self.timed_out or bool(self.shard_failures)


@dataclass(frozen=True)
class Rewritten:
    """What :meth:`Searcher.search` would send: one native request, or one body per
    retriever for a sidecar ``_msearch``."""

    mode: str
    queries: dict[str, Json]
    native: NativePlan | None = None


class Searcher:
    """Runs searches against one engine with the query-side encoders.

    ``partial_results`` is the operator's answer to a response with shard
    failures or a timeout: ``allow`` returns it marked partial, ``fail`` raises
    :class:`~tandem.plugin.search.partial.PartialResultsError`.
    """

    def __init__(
        self,
        adapter: EngineAdapter,
        dense: DenseEncoder | None,
        sparse: SparseQueryEncoder | None,
        sparse_type: SparseType | None,
        dense_field: str = DEFAULT_DENSE_FIELD,
        sparse_field: str = DEFAULT_SPARSE_FIELD,
        policy: QueryPolicy = QueryPolicy(),
        partial_results: PartialResults = "allow",
        layouts: PassageLayouts | None = None,
        sizes: IndexSizes | None = None,
    ) -> None:
        self.adapter = adapter
        self.dense = dense
        self.sparse = sparse
        self.sparse_type = sparse_type
        self.dense_field = dense_field
        self.sparse_field = sparse_field
        self.policy = policy
        self.partial_results = check_partial_results(partial_results)
        # Which indices hold passages; shared by the searchers of one sidecar.
        self.layouts = layouts if layouts is not None else PassageLayouts()
        # Primaries and documents per index, for auto's choice on OpenSearch; shared too.
        self.sizes = sizes if sizes is not None else IndexSizes()

    def admit(self, options: SearchOptions, dsl: TandemQuery | None = None) -> None:
        """Raise unless the operator's query policy allows ``options``' filters and ``dsl``."""
        self.policy.check(options.filters, dsl.template if dsl is not None else None)

    def encode(self, text: str, options: SearchOptions) -> EncodedQuery:
        """The query vectors ``options``' retrievers need, from this searcher's encoders."""
        wanted = options.retrievers
        vector = None
        terms = None
        if "dense" in wanted:
            if self.dense is None:
                raise ValueError("the dense retriever needs a dense model")
            vector = self.dense.encode([text], InputKind.QUERY)[0]
        if "sparse" in wanted:
            if self.sparse is None or self.sparse_type is None:
                raise ValueError("the sparse retriever needs a sparse model and a sparse field")
            terms = self.sparse.encode([text])[0]
        with stage("request build"):
            return EncodedQuery(
                vector.tolist() if vector is not None else None,
                (terms.as_dict() or None) if terms is not None else None,
            )

    def _request(
        self,
        index: str,
        text: str,
        options: SearchOptions,
        encoded: EncodedQuery,
        passages: bool = False,
    ) -> SearchRequest:
        return SearchRequest(
            index=index,
            text=text,
            k=options.size,
            fields=options.fields,
            dense_field=self.dense_field,
            sparse_field=self.sparse_field,
            filters=options.filters,
            window=options.window,
            vector=encoded.vector,
            sparse_terms=encoded.sparse_terms,
            passages=passages,
        )

    def _bodies(self, request: SearchRequest, retrievers: Sequence[str]) -> dict[str, Json]:
        caps = self.adapter.capabilities
        bodies: dict[str, Json] = {}
        for name in retrievers:
            if name == "bm25":
                bodies[name] = bm25_body(request, caps)
            elif name == "dense":
                bodies[name] = dense_body(request, caps)
            elif request.sparse_terms and self.sparse_type is not None:
                bodies[name] = sparse_body(request, caps, self.sparse_type)
        return bodies

    def _retriever_bodies(
        self, request: SearchRequest, options: SearchOptions, dsl: TandemQuery | None
    ) -> dict[str, Json]:
        bodies = self._bodies(request, options.retrievers)
        return embed_bodies(dsl, bodies) if dsl is not None else bodies

    def _native(
        self, request: SearchRequest, options: SearchOptions, dsl: TandemQuery | None = None
    ) -> NativePlan | None:
        """The native plan, ``None`` to fuse in the sidecar; raises in ``native`` mode when
        the engine cannot fuse this search itself."""
        if not options.tries_native:
            return None
        caps = self.adapter.capabilities
        size = (
            self.sizes.of(self.adapter, request.index)
            if options.mode == "auto" and caps.kind is EngineKind.OPENSEARCH
            else None
        )
        if options.mode == "auto" and auto_skips_native(
            caps,
            options.method,
            options.normalization,
            size.primaries if size is not None else None,
            size.docs if size is not None else None,
        ):
            return None
        retrievers = tuple(self._bodies(request, options.retrievers))
        try:
            plan = native_plan(
                page_request(request, options.start, options.size),
                caps,
                retrievers,
                method=options.method,
                normalization=options.normalization,
                weights=dict(options.weights),
                rank_constant=options.rank_constant,
                sparse_type=self.sparse_type,
            )
        except CapabilityError:
            if options.mode == "native":
                raise
            return None
        if dsl is None:
            return plan
        return NativePlan(embed_native(dsl, plan.body), plan.pipeline_body)

    def rewrite(
        self,
        index: str,
        text: str,
        options: SearchOptions,
        encoded: EncodedQuery | None = None,
        dsl: TandemQuery | None = None,
    ) -> Rewritten:
        """What :meth:`search` would send, without sending it."""
        self.admit(options, dsl)
        if encoded is None:
            encoded = self.encode(text, options)
        passages = "dense" in options.retrievers and self.layouts.read(
            self.adapter, index, self.dense_field
        )
        request = self._request(index, text, options, encoded, passages)
        plan = self._native(request, options, dsl)
        if plan is not None:
            return Rewritten("native", {"hybrid": plan.body}, plan)
        return Rewritten("sidecar", self._retriever_bodies(request, options, dsl))

    def _search_native(
        self,
        request: SearchRequest,
        plan: NativePlan,
        options: SearchOptions,
        timeout: float | None,
    ) -> tuple[list[FusedHit], Completeness]:
        index = request.index
        try:
            with stage("engine round trip"):
                response = self.adapter.search(
                    index, plan.body, timeout=timeout, preference=shard_copies(request)
                )
        except EngineBadRequest:
            self._check_fields(request, options.retrievers, options)
            raise
        note("engine took", float(response.get("took", 0)))
        report = self._complete(index, completeness(response))
        with stage("response build"):
            hits = [FusedHit(h["_id"], float(h["_score"]), {}) for h in response["hits"]["hits"]]
        if not hits:
            self._check_fields(request, options.retrievers, options)
        return hits[options.start : options.start + options.size], report

    def _with_documents(
        self, index: str, page: list[FusedHit], options: SearchOptions, timeout: float | None
    ) -> list[FusedHit]:
        """``page`` with each hit's ``options.document_fields`` (one request for the page)."""
        if not options.document_fields or not page:
            return page
        with stage("engine round trip"):
            found = fetch_documents(
                self.adapter, index, [h.id for h in page], options.document_fields, timeout
            )
        return [replace(h, document=found.get(h.id, {})) for h in page]

    def _check_fields(
        self, request: SearchRequest, retrievers: Sequence[str], options: SearchOptions
    ) -> None:
        """Raise :class:`~.diagnose.MissingField` when the index lacks the field one of
        ``retrievers`` searches, or :class:`~.layout.LayoutChanged` when the dense
        field's layout is not the one ``request`` was written for (called only when a
        search failed or found nothing)."""
        index = request.index
        mappings = read_mapping(self.adapter, index)
        if mappings is not None and "dense" in retrievers:
            self.layouts.check(mappings, index, self.dense_field, request.passages)
        missing = first_problem(
            mappings, index, retrievers, options.fields, self.dense_field, self.sparse_field
        )
        if missing is not None:
            raise missing

    def _complete(self, index: str, report: Completeness) -> Completeness:
        """``report``, unless it is partial and the operator refuses partial results."""
        if report.partial and self.partial_results == "fail":
            raise PartialResultsError(index, report)
        return report

    def search(
        self,
        index: str,
        text: str,
        options: SearchOptions = SearchOptions(),
        encoded: EncodedQuery | None = None,
        dsl: TandemQuery | None = None,
        timeout: float | None = None,
    ) -> SearchResult:
        """Fused (or single-retriever) hits for ``text``, paginated by ``options``.

        ``encoded`` skips this searcher's own encoders (the sidecar batches
        queries across requests and passes the result in). ``dsl`` runs every
        retriever inside the user's own query, in place of its ``tandem`` clause.
        ``timeout`` bounds the engine round trip (the caller's remaining deadline).
        """
        self.admit(options, dsl)
        started = time.perf_counter()
        if encoded is None:
            encoded = self.encode(text, options)
        try:
            return self._search_once(index, text, options, encoded, dsl, timeout, started)
        except LayoutChanged:
            # The dense field's layout was learnt from the mapping just now: once more.
            return self._search_once(index, text, options, encoded, dsl, timeout, started)

    def _search_once(
        self,
        index: str,
        text: str,
        options: SearchOptions,
        encoded: EncodedQuery,
        dsl: TandemQuery | None,
        timeout: float | None,
        started: float,
    ) -> SearchResult:
        encoded_at = time.perf_counter()
        with stage("request build"):
            passages = self.layouts.known(index, self.dense_field)
            request = self._request(index, text, options, encoded, passages)
            plan = self._native(request, options, dsl)
        if plan is not None:
            page, report = self._search_native(request, plan, options, timeout)
            page = self._with_documents(index, page, options, timeout)
            searched = time.perf_counter()
            return SearchResult(
                page,
                encode_ms=1000 * (encoded_at - started),
                engine_ms=1000 * (searched - encoded_at),
                fusion_ms=0.0,
                mode="native",
                timed_out=report.timed_out,
                shard_failures=report.shard_failures,
            )
        with stage("request build"):
            bodies = self._retriever_bodies(request, options, dsl)
        with stage("engine round trip"):
            responses = self.adapter.msearch(
                [(index, body) for body in bodies.values()],
                timeout=timeout,
                preference=shard_copies(request),
            )
        searched = time.perf_counter()
        # The sub-searches run side by side in the engine: the slowest is its time.
        note("engine took", max((float(r.get("took", 0)) for r in responses), default=0.0))
        with stage("response build"):
            results, reports = self._retriever_hits(request, bodies, responses, options)
        report = self._complete(index, Completeness.merge(reports))
        found_nothing = [r.name for r in results if not r.hits]
        if found_nothing:
            self._check_fields(request, found_nothing, options)
        config = FusionConfig(
            method="linear" if options.method == "linear" else "rrf",
            rank_constant=options.rank_constant,
            normalization=options.normalization,
            # Weights share out a fusion; one retriever alone keeps its own scores.
            weights=dict(options.weights) if options.hybrid else {},
            window=options.window,
        )
        with stage("fuse"):
            fused = fuse(results, config)
            if not options.hybrid:
                # One retriever: keep its own scores rather than RRF's.
                fused = [
                    FusedHit(h.id, next(iter(h.sources.values())).score, h.sources) for h in fused
                ]
            page = paginate(fused, options.start, options.size)
        fused_at = time.perf_counter()
        page = self._with_documents(index, page, options, timeout)
        done = time.perf_counter()
        return SearchResult(
            page,
            encode_ms=1000 * (encoded_at - started),
            engine_ms=1000 * (searched - encoded_at + done - fused_at),
            fusion_ms=1000 * (fused_at - searched),
            mode="sidecar" if options.hybrid else "single",
            timed_out=report.timed_out,
            shard_failures=report.shard_failures,
        )

    def _retriever_hits(
        self,
        request: SearchRequest,
        bodies: Mapping[str, Json],
        responses: Sequence[Json],
        options: SearchOptions,
    ) -> tuple[list[RetrieverHits], list[Completeness]]:
        """Each retriever's ranked hits from its ``_msearch`` response, and its report."""
        index = request.index
        results = []
        reports = []
        for name, response in zip(bodies, responses, strict=True):
            if "error" in response:
                self._check_fields(request, (name,), options)
                error = response["error"]
                kind = error.get("type") if isinstance(error, dict) else None
                raise error_for_status(
                    response.get("status"),
                    f"{name} retriever failed on {index}: {engine_reason(error)}",
                    kind,
                )
            reports.append(completeness(response, name))
            hits = tuple((h["_id"], float(h["_score"])) for h in response["hits"]["hits"])
            results.append(RetrieverHits(name, hits))
        return results, reports


def shard_copies(request: SearchRequest) -> str:
    """The ``preference`` of every search of one query: the same shard copies for each
    of its pages (replicas build their own segments, so their HNSW graphs and kNN
    answers differ), while other queries spread over the copies."""
    key = f"{request.index}\0{request.text}".encode()
    return "tandem-" + hashlib.sha1(key, usedforsecurity=False).hexdigest()[:16]

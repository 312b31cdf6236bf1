"""Every body the rewriter builds, on real engines, against known answers.

The index comes from :func:`tandem.plugin.index.mapping.build_index_body` and holds
the hand-made corpus of :mod:`.corpus` with two extra sparse terms: ``u.s.``
(a ``.`` in a term name, stored as ``encode_term`` writes it) in every third
document, and ``the`` in every document, like the frequent low-weight tokens
of a SPLADE vocabulary. The answers are known: BM25's rare term, brute-force
cosine neighbours and sparse scores as numpy dot products. Weights are
multiples of 0.25, exact in the engines' reduced-precision sparse encodings.

Recorded here, on each engine of the matrix (docs/engines.md has the setup):

* every engine: ``bm25_body``, ``dense_body`` and ``sparse_body`` are accepted,
  alone and in one ``_msearch``; a filter applies in each, kNN's before the
  cut; sparse scores are exact dot products.
* OpenSearch 2.19 and 3.6: ``hybrid_body`` with each :func:`pipeline_body`
  sent inside the request as ``search_pipeline`` (``z_score`` on 3.x only, RRF
  weights on 3.1+ only: 2.19 refuses both); ``pagination_depth`` = window is
  accepted and decides how deep each sub-query looks, and the body for
  2.10-2.18 (no ``pagination_depth``, ``size`` = window) ranks the same; the
  ``rank_feature`` fallback gives exact dot products.
* OpenSearch: the sparse field is ``rank_features`` (its own ``sparse_vector``
  is refused: test_mappings_on_engines.py).
* Elasticsearch 9.5.4 (basic licence): no ``rrf`` / ``linear`` retrievers, so
  ``retriever_body`` raises CapabilityError; ``sparse_vector`` prunes
  frequent low-weight query tokens by default, hence ``"prune": false``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.base import Capabilities, EngineAdapter, Json
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import CapabilityError, EngineBadRequest
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.mapping import build_index_body, sparse_field_type
from tandem.plugin.index.spec import (
    DenseField,
    IndexSpec,
    MetadataField,
    SparseField,
    SparseType,
    TextField,
)
from tandem.plugin.index.terms import encode_term
from tandem.plugin.search.request import SearchRequest
from tandem.plugin.search.rewriter import (
    DEFAULT_RANK_CONSTANT,
    bm25_body,
    dense_body,
    hybrid_body,
    pipeline_body,
    retriever_body,
    sparse_body,
)

from .corpus import DIMS, VOCAB, Doc, exact_cosine_top, make_corpus, query_near

DOTTED = "u.s."
COMMON = "the"


def _with_terms(docs: list[Doc], extra: Callable[[int], dict[str, float]]) -> list[Doc]:
    return [replace(d, terms={**d.terms, **extra(i)}) for i, d in enumerate(docs)]


# The corpus with a dotted term, and that corpus with a term in every document.
BASE_DOCS = _with_terms(make_corpus(), lambda i: {DOTTED: 1.5} if i % 3 == 0 else {})
DOCS = _with_terms(BASE_DOCS, lambda i: {COMMON: 0.25})
BY_ID = {d.id: d for d in DOCS}
TARGET = BY_ID["d017"]  # category "b"; "number017" is its own BM25 term
TARGET_TERMS = make_corpus()[17].terms
SPARSE_QUERY = {"term3": 1.0, DOTTED: 2.0, COMMON: 0.5}
IN_A = {"term": {"category": "a"}}
IN_B = {"term": {"category": "b"}}
K = 5
RRF = 1 / (DEFAULT_RANK_CONSTANT + 1)  # one retriever's RRF share for its first hit
# Half the vocabulary heavy, half light: the light terms are pruning candidates by weight.
WHOLE_VOCABULARY = {t: 0.25 if i % 2 else 3.0 for i, t in enumerate(VOCAB)}


def dot_products(query: Mapping[str, float], docs: Sequence[Doc] = DOCS) -> dict[str, float]:
    """Query x document weights for each of ``docs`` (numpy), the non-zero ones only."""
    names = sorted({t for d in docs for t in d.terms} | set(query))
    weights = np.asarray([[d.terms.get(t, 0.0) for t in names] for d in docs])
    products = weights @ np.asarray([query.get(t, 0.0) for t in names])
    return {d.id: float(p) for d, p in zip(docs, products, strict=True) if p > 0}


def in_category(category: str) -> list[Doc]:
    return [d for d in DOCS if d.category == category]


@dataclass(frozen=True)
class Filled:
    """An index holding the corpus, and what the rewriter needs to know about it."""

    name: str
    caps: Capabilities
    sparse_type: SparseType


@pytest.fixture(scope="module")
def adapter(engine: EngineHandle) -> Iterator[EngineAdapter]:
    opened = connect(engine.url)
    yield opened
    opened.close()


def _spec(name: str, dense: bool = True) -> IndexSpec:
    return IndexSpec(
        name=name,
        text_fields=(TextField("text"),),
        dense=DenseField("embedding", dims=DIMS) if dense else None,
        sparse=SparseField("sparse"),
        metadata=(MetadataField("category", "keyword"),),
    )


def _fill(adapter: EngineAdapter, spec: IndexSpec, docs: Sequence[Doc]) -> Filled:
    caps = adapter.capabilities
    sparse_type = sparse_field_type(spec, caps)
    assert sparse_type is not None
    body = build_index_body(spec, caps, DIMS if spec.dense else None)
    adapter.create_index(spec.name, body)
    operations: list[Json] = []
    for doc in docs:
        source: Json = {"text": doc.text, "category": doc.category}
        if spec.dense is not None:
            source["embedding"] = doc.vector
        source["sparse"] = {encode_term(t): w for t, w in doc.terms.items()}
        operations += [{"index": {"_index": spec.name, "_id": doc.id}}, source]
    failed = [r for r in adapter.bulk(operations, refresh=True) if not r.ok]
    assert not failed, failed[:3]
    return Filled(spec.name, caps, sparse_type)


@pytest.fixture
def filled(adapter: EngineAdapter, index_name: str) -> Filled:
    """The corpus in an index with text, a 384-dim dense field and a sparse field."""
    return _fill(adapter, _spec(index_name), DOCS)


@pytest.fixture
def opensearch(engine: EngineHandle) -> EngineHandle:
    """The engine, for OpenSearch's own DSL (other engines are deselected in conftest)."""
    assert engine.kind is EngineKind.OPENSEARCH
    return engine


@pytest.fixture
def elasticsearch(engine: EngineHandle) -> EngineHandle:
    """The engine, for Elasticsearch's own DSL (other engines are deselected in conftest)."""
    assert engine.kind is EngineKind.ELASTICSEARCH
    return engine


def fused(
    adapter: EngineAdapter, index: str, body: Json, pipeline: Json
) -> tuple[list[tuple[str, float]], int]:
    """The hits of ``body`` fused by ``pipeline`` (sent inside the request, as native
    fusion does: nothing is stored on the cluster), and the total of candidates."""
    response = adapter.search(index, {**body, "search_pipeline": pipeline})
    return hits(response), int(response["hits"]["total"]["value"])


def version(engine: EngineHandle) -> tuple[int, ...]:
    return tuple(int(p) for p in engine.version.split("."))


def request(index: str, **changes: Any) -> SearchRequest:
    base: dict[str, Any] = {
        "index": index,
        "text": "number017",
        "fields": ("text",),
        "k": K,
        "window": 10,
        "vector": query_near(TARGET),
        "sparse_terms": SPARSE_QUERY,
    }
    base.update(changes)
    return SearchRequest(**base)


def hits(response: Mapping[str, Any]) -> list[tuple[str, float]]:
    assert "error" not in response, response.get("error")
    return [(h["_id"], float(h["_score"])) for h in response["hits"]["hits"]]


def scores(adapter: EngineAdapter, index: str, body: Json) -> dict[str, float]:
    found = hits(adapter.search(index, body))
    assert len({i for i, _ in found}) == len(found)
    return dict(found)


def categories(found: Sequence[tuple[str, float]]) -> set[str]:
    return {BY_ID[doc_id].category for doc_id, _ in found}


# -- one retriever at a time, every engine ---------------------------------------


def test_bm25_body(adapter: EngineAdapter, filled: Filled) -> None:
    req = request(filled.name, text="number017 retrieval")
    response = adapter.search(filled.name, bm25_body(req, filled.caps))
    found = hits(response)
    assert found[0][0] == TARGET.id
    assert found[0][1] > found[1][1]  # the rare term decides
    assert all("_source" not in h for h in response["hits"]["hits"])
    # Filtered: every match of "retrieval" is in both categories, so a window of each.
    in_b = hits(adapter.search(filled.name, bm25_body(replace(req, filters=(IN_B,)), filled.caps)))
    assert in_b[0][0] == TARGET.id and categories(in_b) == {"b"}
    in_a = hits(adapter.search(filled.name, bm25_body(replace(req, filters=(IN_A,)), filled.caps)))
    assert len(in_a) == req.window and categories(in_a) == {"a"}


def test_dense_body_agrees_with_exact_search(adapter: EngineAdapter, filled: Filled) -> None:
    req = request(filled.name)
    found = hits(adapter.search(filled.name, dense_body(req, filled.caps)))
    expected = exact_cosine_top(DOCS, list(req.vector or ()), req.window)
    assert found[0][0] == TARGET.id
    assert [i for i, _ in found] == [i for i, _ in expected]
    # Both engines report cosine as (1 + cos) / 2.
    for (_, score), (_, cosine) in zip(found, expected, strict=True):
        assert score == pytest.approx((1 + cosine) / 2, abs=1e-4)


def test_dense_filter_is_a_prefilter(adapter: EngineAdapter, filled: Filled) -> None:
    # The query sits in cluster "b", whose documents fill the whole unfiltered
    # window: a post-filter on "a" would return nothing, a pre-filter a full window.
    req = request(filled.name)
    assert categories(hits(adapter.search(filled.name, dense_body(req, filled.caps)))) == {"b"}
    body = dense_body(replace(req, filters=(IN_A,)), filled.caps)
    found = hits(adapter.search(filled.name, body))
    expected = exact_cosine_top(in_category("a"), list(req.vector or ()), req.window)
    assert [i for i, _ in found] == [i for i, _ in expected]


def test_sparse_body_scores_are_dot_products(adapter: EngineAdapter, filled: Filled) -> None:
    req = request(filled.name, window=len(DOCS))
    expected = dot_products(SPARSE_QUERY)
    assert len(expected) == len(DOCS)  # COMMON is in every document
    found = scores(adapter, filled.name, sparse_body(req, filled.caps, filled.sparse_type))
    assert found == pytest.approx(expected, rel=1e-6)
    assert max(found, key=found.__getitem__) == max(expected, key=expected.__getitem__)
    # The filter applies inside the sparse query: the survivors keep their exact scores.
    body = sparse_body(replace(req, filters=(IN_A,)), filled.caps, filled.sparse_type)
    assert scores(adapter, filled.name, body) == pytest.approx(
        dot_products(SPARSE_QUERY, in_category("a")), rel=1e-6
    )


def test_retriever_bodies_in_one_msearch(adapter: EngineAdapter, filled: Filled) -> None:
    """Sidecar fusion sends the three bodies in one ``_msearch``; each answers as alone."""
    req = request(filled.name, text="number017 retrieval", filters=(IN_A,), window=20)
    bodies = [
        bm25_body(req, filled.caps),
        dense_body(req, filled.caps),
        sparse_body(req, filled.caps, filled.sparse_type),
    ]
    responses = adapter.msearch([(filled.name, body) for body in bodies])
    for body, response in zip(bodies, responses, strict=True):
        found = hits(response)
        assert len(found) == req.window and categories(found) == {"a"}
        assert found == hits(adapter.search(filled.name, body))


# -- OpenSearch: rank_feature fallback, hybrid query and pipelines ------------------


def test_rank_feature_fallback_is_a_dot_product(
    opensearch: EngineHandle, adapter: EngineAdapter, filled: Filled
) -> None:
    assert filled.sparse_type == "rank_features"
    no_neural = replace(filled.caps, neural_sparse=False)
    req = request(filled.name, window=len(DOCS))
    body = sparse_body(req, no_neural, "rank_features")
    should = body["query"]["bool"]["should"]
    assert {c["rank_feature"]["field"] for c in should} >= {f"sparse.{encode_term(DOTTED)}"}
    assert all(c["rank_feature"]["linear"] == {} for c in should)
    assert scores(adapter, filled.name, body) == pytest.approx(dot_products(SPARSE_QUERY), rel=1e-6)
    filtered = sparse_body(replace(req, filters=(IN_B,)), no_neural, "rank_features")
    assert scores(adapter, filled.name, filtered) == pytest.approx(
        dot_products(SPARSE_QUERY, in_category("b")), rel=1e-6
    )


NORMALIZATIONS = [("linear", "min_max"), ("linear", "l2"), ("linear", "z_score"), ("rrf", None)]


@pytest.mark.parametrize(
    ("method", "normalization"), NORMALIZATIONS, ids=[n or m for m, n in NORMALIZATIONS]
)
def test_hybrid_body_with_each_pipeline(
    opensearch: EngineHandle,
    adapter: EngineAdapter,
    filled: Filled,
    method: str,
    normalization: str | None,
) -> None:
    caps = filled.caps
    assert ("z_score" in caps.normalization_techniques) == (version(opensearch) >= (3, 0, 0))
    req = request(filled.name, sparse_terms=TARGET_TERMS, window=20)
    retrievers = ["bm25", "dense", "sparse"]
    body = hybrid_body(req, caps, retrievers, sparse_type=filled.sparse_type)
    if normalization is not None and normalization not in caps.normalization_techniques:
        with pytest.raises(CapabilityError, match=f"no {normalization} normalization"):
            pipeline_body(method, normalization, None, DEFAULT_RANK_CONSTANT, caps=caps)
        # The engine agrees: a pipeline forced past the capability check is refused.
        forced = replace(caps, normalization_techniques=(normalization,))
        refused = pipeline_body(method, normalization, None, DEFAULT_RANK_CONSTANT, caps=forced)
        with pytest.raises(EngineBadRequest, match="normalization technique is not supported"):
            fused(adapter, filled.name, body, refused)
        return
    pipeline = pipeline_body(method, normalization, None, DEFAULT_RANK_CONSTANT, caps=caps)
    assert body["query"]["hybrid"]["pagination_depth"] == req.window
    found, _ = fused(adapter, filled.name, body, pipeline)
    assert len(found) == K
    assert found[0][0] == TARGET.id  # first for every retriever
    if method == "rrf":
        assert found[0][1] == pytest.approx(3 * RRF, rel=1e-4)
    elif normalization == "min_max":
        assert found[0][1] == pytest.approx(1.0, abs=1e-6)
    # Filters sit inside each sub-query (2.19 refuses hybrid.filter).
    for category, only in (("b", IN_B), ("a", IN_A)):
        narrowed = hybrid_body(
            replace(req, filters=(only,)), caps, retrievers, sparse_type=filled.sparse_type
        )
        found, _ = fused(adapter, filled.name, narrowed, pipeline)
        assert len(found) == K and categories(found) == {category}
        assert (found[0][0] == TARGET.id) == (category == "b")


def _sparse_rank(query: Mapping[str, float], doc_id: str) -> int:
    ranked = sorted(dot_products(query).items(), key=lambda item: -item[1])
    position = [i for i, _ in ranked].index(doc_id)
    score = ranked[position][1]
    assert sum(s == score for _, s in ranked) == 1, "the rank must not depend on ties"
    return position + 1


def test_hybrid_window_and_pagination_depth(
    opensearch: EngineHandle,
    adapter: EngineAdapter,
    filled: Filled,
) -> None:
    caps = filled.caps
    rrf = pipeline_body("rrf", None, None, DEFAULT_RANK_CONSTANT, caps=caps)
    # BM25 finds TARGET alone; with a window of 20 over k = 5, kNN adds documents
    # that only it found, each scored by its kNN rank alone.
    req = request(filled.name, window=20)
    body = hybrid_body(req, caps, ["bm25", "dense"])
    assert body["query"]["hybrid"]["pagination_depth"] == 20
    found, total = fused(adapter, filled.name, body, rrf)
    assert total == req.window  # the union of both sub-queries' candidates
    assert found[0] == (TARGET.id, pytest.approx(2 * RRF, rel=1e-4))
    for rank, (doc_id, score) in enumerate(found[1:], start=2):
        assert "number017" not in BY_ID[doc_id].text
        assert score == pytest.approx(1 / (DEFAULT_RANK_CONSTANT + rank), rel=1e-4)
    # pagination_depth decides how deep each sub-query looks: the sparse query ranks
    # TARGET below k, so only a window beyond k adds its sparse share.
    query = {"term27": 1.0}
    rank = _sparse_rank(query, TARGET.id)
    assert K < rank <= req.window
    # Before 2.19 (no pagination_depth) the body asks for window hits instead: each
    # sub-query keeps size hits per shard, so it looks as deep, and its first k hits
    # are the same (both engines here still take a hybrid query without the key).
    before_219 = replace(caps, version=(2, 18, 0))
    for window, expected in ((20, RRF + 1 / (DEFAULT_RANK_CONSTANT + rank)), (K, RRF)):
        deep = replace(req, sparse_terms=query, window=window)
        body = hybrid_body(deep, caps, ["bm25", "sparse"], sparse_type=filled.sparse_type)
        found, candidates = fused(adapter, filled.name, body, rrf)
        assert dict(found)[TARGET.id] == pytest.approx(expected, rel=1e-4), window
        old = hybrid_body(deep, before_219, ["bm25", "sparse"], sparse_type=filled.sparse_type)
        assert old["size"] == window and "pagination_depth" not in old["query"]["hybrid"]
        emulated, same = fused(adapter, filled.name, old, rrf)
        assert same == candidates and len(emulated) == min(window, candidates), window
        assert dict(emulated)[TARGET.id] == pytest.approx(expected, rel=1e-4), window
        assert [i for i, _ in emulated[:K]] == [i for i, _ in found], window
        assert [v for _, v in emulated[:K]] == pytest.approx([v for _, v in found], rel=1e-5)


def test_weighted_pipelines(
    opensearch: EngineHandle,
    adapter: EngineAdapter,
    filled: Filled,
) -> None:
    caps = filled.caps
    weights = [3, 1]  # written as the shares 0.75 and 0.25
    body = hybrid_body(request(filled.name, window=20), caps, ["bm25", "dense"])
    linear = pipeline_body("linear", "min_max", weights, DEFAULT_RANK_CONSTANT, caps=caps)
    found, _ = fused(adapter, filled.name, body, linear)
    assert found[0] == (TARGET.id, pytest.approx(1.0, abs=1e-6))
    assert all(score <= 0.25 + 1e-6 for _, score in found[1:])  # kNN's share only
    if version(opensearch) < (3, 1, 0):
        with pytest.raises(CapabilityError, match=r"RRF weights \(OpenSearch 3.1\+\)"):
            pipeline_body("rrf", None, weights, DEFAULT_RANK_CONSTANT, caps=caps)
        forced = replace(caps, version=(3, 1, 0))
        refused = pipeline_body("rrf", None, weights, DEFAULT_RANK_CONSTANT, caps=forced)
        with pytest.raises(EngineBadRequest, match=r"supported parameters are \[rank_constant\]"):
            fused(adapter, filled.name, body, refused)
        return
    rrf = pipeline_body("rrf", None, weights, DEFAULT_RANK_CONSTANT, caps=caps)
    found, _ = fused(adapter, filled.name, body, rrf)
    # Each retriever's 1 / (60 + rank) times its share.
    assert found[0] == (TARGET.id, pytest.approx(RRF, rel=1e-4))
    assert found[1][1] == pytest.approx(0.25 / (DEFAULT_RANK_CONSTANT + 2), rel=1e-4)


# -- Elasticsearch 9.5.4 on a basic licence -----------------------------------------


def test_elasticsearch_has_no_retrievers(
    elasticsearch: EngineHandle, adapter: EngineAdapter, filled: Filled
) -> None:
    caps = filled.caps
    assert caps.license == "basic" and caps.retrievers == ()
    req = request(filled.name)
    licensed = replace(caps, license="enterprise", retrievers=("rrf", "linear"))
    for method in ("rrf", "linear"):
        with pytest.raises(CapabilityError, match=f"no '{method}' retriever"):
            retriever_body(req, caps, ["bm25", "dense"], method=method)
        # The engine agrees: the zip has no rank-rrf module, whatever the licence.
        body = retriever_body(req, licensed, ["bm25", "dense"], method=method)
        with pytest.raises(EngineBadRequest, match=rf"unknown retriever \[{method}\]"):
            adapter.search(filled.name, body)


def _pruned_by_default(body: Json) -> Json:
    default = copy.deepcopy(body)
    del default["query"]["sparse_vector"]["prune"]
    return default


def test_elasticsearch_sparse_vector_pruning(
    elasticsearch: EngineHandle, adapter: EngineAdapter, filled: Filled, index_name: str
) -> None:
    caps = filled.caps
    req = request(filled.name, window=len(DOCS))
    body = sparse_body(req, caps, "sparse_vector")
    assert body["query"]["sparse_vector"]["prune"] is False
    assert scores(adapter, filled.name, body) == pytest.approx(dot_products(SPARSE_QUERY), rel=1e-6)
    # Left to the field's default, 9.5.4 prunes COMMON: it is in more than 5x the
    # average share of documents and weighs at most 0.4x the query's top weight.
    # Its share of every score goes, and with it every document it alone matched.
    without_common = {t: w for t, w in SPARSE_QUERY.items() if t != COMMON}
    pruned = scores(adapter, filled.name, _pruned_by_default(body))
    assert pruned == pytest.approx(dot_products(without_common), rel=1e-6)
    assert len(pruned) < len(DOCS)
    # On the hand-made corpus itself (no term in every document) nothing is pruned.
    plain = f"{index_name}-plain"
    try:
        _fill(adapter, _spec(plain, dense=False), BASE_DOCS)
        for query in ({"term3": 1.0}, SPARSE_QUERY, WHOLE_VOCABULARY):
            default = _pruned_by_default(
                sparse_body(request(plain, sparse_terms=query, window=60), caps, "sparse_vector")
            )
            assert scores(adapter, plain, default) == pytest.approx(
                dot_products(query, BASE_DOCS), rel=1e-6
            )
    finally:
        adapter.delete_index(plain)

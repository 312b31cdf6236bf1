"""Long documents as passages, on every engine: what truncation hides, passages find.

A small corpus holds one long document whose only sentence about arctic terns
comes after ~300 tokens about query planners, past MiniLM's 254-token window.
Indexed flat, its vector says nothing about terns; indexed as passages (nested
vectors, nested kNN), its last passage does. The same documents go through
``tandem index``'s ingest, fused search (native where the engine fuses), filters,
``tandem enrich --passages`` on a user's own index, and the refusals that keep a
flat vector field from being written as passages.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tandem.client import ClientError, TandemClient
from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.sparse import Pruning, SpladeEncoder
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.enrich.dialect import source_filter
from tandem.plugin.index.mapping import sparse_type_for
from tandem.plugin.index.spec import MetadataField, Passages, default_spec
from tandem.plugin.index.terms import encode_term
from tandem.plugin.ingest.assemble import build_ingestor, ensure_index
from tandem.plugin.ingest.documents import Document
from tandem.plugin.ingest.passages import Splitters, max_pool
from tandem.plugin.ingest.pipeline import FieldMap, IngestReport
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher
from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import tandem
from .sidecar import spec_json
from .user_index import create_user_index

pytestmark = pytest.mark.integration

PLANNER = [
    f"Query planner note {i}: the optimizer estimates join cardinality from table "
    f"statistics and picks index scans over sequential scans for predicate {i}."
    for i in range(10)
]
TERNS = (
    "Arctic terns make the longest migration of any animal. Every year an arctic tern "
    "flies from its breeding grounds in Greenland and Iceland to the Weddell Sea off "
    "Antarctica, and back again. Tracked terns covered more than seventy thousand "
    "kilometres a year on this migration, following the winds over the Atlantic Ocean. "
    "Over a thirty-year life an arctic tern migrates a distance equal to three trips to "
    "the moon and back."
)
DOCS = [
    Document("long", {"title": "Planner notes", "text": " ".join(PLANNER) + " " + TERNS}, {}),
    Document(
        "penguin",
        {"title": "Penguins", "text": "Penguins cannot fly; they swim in cold southern seas."},
        {},
    ),
    Document(
        "planner",
        {"title": "Join order", "text": "Cost models choose join orders from statistics."},
        {},
    ),
    Document(
        "bread", {"title": "Sourdough", "text": "Sourdough bread rises slowly overnight."}, {}
    ),
    Document("goal", {"title": "Football", "text": "A late goal decided the cup final."}, {}),
]
KIND = {"long": "animal", "penguin": "animal", "planner": "tech", "bread": "food", "goal": "sport"}
QUERY = "which animal makes the longest yearly migration, arctic terns"


@pytest.fixture(scope="module")
def dense() -> DenseEncoder:
    return load_dense(KNOWN_MODELS["minilm"])


@pytest.fixture(scope="module")
def sparse() -> SpladeEncoder:
    return load_sparse(KNOWN_MODELS["splade-tiny"])


@pytest.fixture
def adapter(engine: EngineHandle) -> Iterator[EngineAdapter]:
    found = connect(engine.url)
    yield found
    found.close()


@pytest.fixture
def names(adapter: EngineAdapter) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        adapter.delete_index(name)


def _index(
    adapter: EngineAdapter,
    names: list[str],
    dense: DenseEncoder,
    sparse: SpladeEncoder,
    passages: Passages | None,
) -> tuple[str, IngestReport]:
    name = f"passages-{uuid.uuid4().hex[:10]}"
    names.append(name)
    spec = default_spec(name, dims=384, passages=passages)
    spec = replace(spec, metadata=(MetadataField("kind", "keyword"),))
    assert ensure_index(adapter, spec, 384)
    docs = [Document(d.id, d.text, {"kind": KIND[d.id]}) for d in DOCS]
    ingestor = build_ingestor(
        adapter,
        name,
        FieldMap.of(spec),
        dense,
        sparse,
        splitters=Splitters.for_index(dense, sparse, spec.passages),
    )
    report = ingestor.run(docs, total=len(docs))
    adapter.refresh(name)
    assert report.indexed == len(DOCS) and not report.failures
    return name, report


def _source(adapter: EngineAdapter, index: str, doc_id: str) -> dict[str, Any]:
    """The whole stored document (vectors included, which Elasticsearch 9 leaves out)."""
    body = {"query": {"ids": {"values": [doc_id]}}, "_source": source_filter(adapter, True)}
    (hit,) = adapter.search(index, body)["hits"]["hits"]
    return dict(hit["_source"])


def _ids(searcher: Searcher, index: str, **options: Any) -> list[str]:
    return [h.id for h in searcher.search(index, QUERY, SearchOptions(**options)).hits]


def test_passages_find_what_truncation_hides(
    adapter: EngineAdapter, names: list[str], dense: DenseEncoder, sparse: SpladeEncoder
) -> None:
    flat, flat_report = _index(adapter, names, dense, sparse, None)
    split, split_report = _index(adapter, names, dense, sparse, Passages())
    searcher = Searcher(adapter, dense, sparse, sparse_type_for(adapter.capabilities))

    # The same documents; only the long one differs, and only past the window.
    assert _ids(searcher, split, method="dense", size=5)[0] == "long"
    assert _ids(searcher, flat, method="dense", size=5)[0] != "long"

    # Both runs measured the long text; only the passage run split it.
    for report in (flat_report, split_report):
        seen = report.lengths["dense"]
        assert (seen.texts, seen.long) == (5, 1) and seen.tokens_past_window > 40
    assert flat_report.lengths["dense"].passages == 5
    assert split_report.lengths["dense"].passages == 4 + 2
    # splade-tiny reads 510 tokens: the long text fits it whole.
    assert split_report.lengths["sparse"].long == 0

    # The engine stores one object per passage and counts documents, not passages.
    source = _source(adapter, split, "long")
    assert [len(p["vector"]) for p in source["embedding"]] == [384, 384]
    assert adapter.count(split) == len(DOCS)


def test_fusion_and_filters_over_passages(
    adapter: EngineAdapter, names: list[str], dense: DenseEncoder, sparse: SpladeEncoder
) -> None:
    index, _ = _index(adapter, names, dense, sparse, Passages(128, 64, sparse=True))
    searcher = Searcher(adapter, dense, sparse, sparse_type_for(adapter.capabilities))
    animals = ({"term": {"kind": "animal"}},)
    native = adapter.capabilities.kind is EngineKind.OPENSEARCH
    for mode in ("sidecar", "native") if native else ("sidecar",):
        for method in ("rrf", "linear"):
            result = searcher.search(
                index, QUERY, SearchOptions(method=method, mode=mode, size=5, filters=animals)
            )
            assert result.mode == mode
            assert [h.id for h in result.hits] == ["long", "penguin"], (mode, method)
    # The dense leg alone, filtered before the kNN cut: only animals come back.
    assert _ids(searcher, index, method="dense", size=5, filters=animals) == ["long", "penguin"]
    # With sparse passages splade-tiny splits too: the long text's weights are the max
    # over its passages' (SPLADE's pooling across windows), not the whole text's.
    stored = _source(adapter, index, "long")["sparse"]
    splitter = Splitters.for_index(None, sparse, Passages(128, 64, sparse=True)).sparse
    assert splitter is not None
    (split,) = splitter.split([DOCS[0].passage()])
    assert len(split.passages) >= 3
    pooled = max_pool(sparse.encode(list(split.passages)), Pruning())
    # Elasticsearch 9 rebuilds sparse_vector sources from the index: 9 significant bits.
    expected = {encode_term(t): w for t, w in pooled.items()}
    assert stored == pytest.approx(expected, rel=2**-8)
    whole = sparse.encode([DOCS[0].passage()])[0].as_dict()
    assert any(t not in whole or w > 1.05 * whole[t] for t, w in pooled.items())
    assert "planner" in stored and "antarctica" in stored


def test_the_sidecar_searches_a_passage_index_it_has_not_seen(
    engine: EngineHandle,
    adapter: EngineAdapter,
    names: list[str],
    dense: DenseEncoder,
    sparse: SpladeEncoder,
) -> None:
    """``tandem search`` knows nothing of the layout: the first search learns it."""
    index, _ = _index(adapter, names, dense, sparse, Passages())
    done = tandem(
        "search", QUERY, "--index", index, "--engine", engine.url, "--method", "dense", "--json"
    )
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    assert hits[0]["id"] == "long"


def test_enrich_writes_passages_into_a_users_index(
    engine: EngineHandle, engine_client: Any, adapter: EngineAdapter, names: list[str]
) -> None:
    index = f"user-passages-{uuid.uuid4().hex[:10]}"
    names.append(index)
    create_user_index(engine_client, engine, index, knn=True)
    for doc in DOCS:
        body = {"title": doc.text["title"], "body": doc.text["text"], "tag": KIND[doc.id]}
        engine_client.index(index=index, id=doc.id, body=body)
    engine_client.indices.refresh(index=index)

    done = tandem(
        "enrich", "--engine", engine.url, "--index", index, "--text", "title,body",
        "--passages", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["enriched"] == len(DOCS)
    assert report["lengths"]["dense"]["long"] == 1
    assert report["lengths"]["dense"]["passages"] == len(DOCS) + 1
    properties = adapter.get_mapping(index)["properties"]
    assert properties["embedding"]["type"] == "nested"
    held = _source(adapter, index, "long")["embedding"]
    assert len(held) == 2

    found = tandem(
        "search", QUERY, "--index", index, "--engine", engine.url, "--method", "dense",
        "--text-fields", "title,body", "--json",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["id"] == "long"

    # Whole-document vectors cannot go into the passage field, nor passages into a flat one.
    flat = tandem("enrich", "--engine", engine.url, "--index", index, "--text", "title,body")
    assert flat.returncode != 0
    assert "holds passages" in flat.stderr and "--passages" in flat.stderr
    other = tandem(
        "enrich", "--engine", engine.url, "--index", index, "--text", "title,body",
        "--dense-field", "whole", "--sparse", "none",
    )  # fmt: skip
    assert other.returncode == 0, other.stderr
    mixed = tandem(
        "enrich", "--engine", engine.url, "--index", index, "--text", "title,body",
        "--dense-field", "whole", "--sparse", "none", "--passages",
    )  # fmt: skip
    assert mixed.returncode != 0
    assert "holds one vector per document" in mixed.stderr


def test_the_sidecar_creates_fills_and_searches_a_passage_index(
    engine_sidecar: EmbeddedSidecar, engine_sidecar_client: TandemClient
) -> None:
    """CreateIndex with passages, IndexDocuments splitting by the index's own window,
    and Search and Rewrite through the sidecar, which learns the layout once for all
    its calls."""
    client = engine_sidecar_client
    name = f"passages-sidecar-{uuid.uuid4().hex[:10]}"
    spec = {**spec_json(name), "passages": {"window": 128}}
    too_long = {**spec_json(name), "passages": {"window": 300}}
    with pytest.raises(ClientError, match="longer than the model reads \\(254 tokens"):
        client.create_index(too_long)
    body = client.create_index(spec)
    assert body["mappings"]["properties"]["embedding"]["type"] == "nested"
    try:
        docs = [{"_id": d.id, **d.text} for d in DOCS]
        result = client.index_documents(name, docs)
        assert (result.indexed, result.failed) == (len(DOCS), 0)
        layouts = engine_sidecar.sidecar.runtime.layouts
        assert not layouts.known(name, "embedding")
        for _ in range(2):
            hits = client.search(name, QUERY, SearchOptions(method="dense", size=3)).hits
            assert hits[0].id == "long"
        assert layouts.known(name, "embedding")
        rewritten = client.rewrite(name, QUERY, SearchOptions(method="rrf", mode="sidecar"))
        dense_body = rewritten["queries"]["dense"]
        assert "embedding.vector" in json.dumps(dense_body)
    finally:
        client.delete_index(name)

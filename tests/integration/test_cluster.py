"""A real 3-node cluster on each engine (``tandem engines up --nodes 3``), with indices
of 3 primaries and 1 replica.

Fusion and pagination fan out over shards on several nodes; then one node is
SIGKILLed while an ingest and an enrich run side by side, and both must account for
every document, with nothing lost; and search keeps answering while the cluster is
yellow. The cluster is started once per engine, on ports of its own, and stopped
after this module.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.sparse import SpladeEncoder
from tandem.integration.clients import client_for
from tandem.integration.errors import EngineError
from tandem.integration.handle import EngineHandle
from tandem.integration.launcher import Launcher
from tandem.integration.pytest_plugin import in_ci
from tandem.integration.specs import DEFAULT_VERSIONS
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.enrich.marker import models_id
from tandem.plugin.enrich.plan import EnrichRequest, plan
from tandem.plugin.enrich.report import EnrichReport
from tandem.plugin.enrich.run import Enricher, EnrichOptions
from tandem.plugin.index.mapping import build_index_body, sparse_field_type
from tandem.plugin.index.spec import default_spec
from tandem.plugin.ingest.bulk import BulkOptions, BulkWriter
from tandem.plugin.ingest.documents import Document, read_documents
from tandem.plugin.ingest.pipeline import FieldMap, IngestOptions, Ingestor, SourceBuilder
from tandem.plugin.ingest.progress import Snapshot
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from .memo import MemoEncoders
from .shared_data import shared_dir
from .test_search import top10_agree_up_to_ties
from .user_index import bulk, create_user_index, scifact_docs, stale, stored

pytestmark = pytest.mark.integration

NODES = 3
# Ports of their own, clear of the single-node matrix (9200-9240).
PORTS = {EngineKind.OPENSEARCH: 9250, EngineKind.ELASTICSEARCH: 9260}
SLICE = 200
QUERIES = 20
ON_THE_DEAD_NODE = 150  # documents ingested, and enriched, while a node is killed


@pytest.fixture(scope="module", params=list(PORTS), ids=lambda kind: f"{kind.value}-cluster")
def cluster(request: pytest.FixtureRequest) -> Iterator[EngineHandle]:
    kind: EngineKind = request.param
    launcher = Launcher(progress=lambda m: print(f"[cluster] {m}", flush=True), owner="pytest")
    try:
        handle = launcher.up(kind, DEFAULT_VERSIONS[kind], PORTS[kind], nodes=NODES)
    except EngineError as err:
        message = f"a {NODES}-node {kind.label} cluster did not start: {err}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield handle
    if os.environ.get("TANDEM_KEEP_ENGINES") != "1":
        launcher.stop(handle)


@pytest.fixture(scope="module")
def models() -> tuple[DenseEncoder, SpladeEncoder]:
    return load_dense(KNOWN_MODELS["minilm"]), load_sparse(KNOWN_MODELS["splade-tiny"])


def _scifact(count: int, offset: int = 0) -> list[Document]:
    records = read_documents(shared_dir() / "data" / "scifact")
    docs = [r for r in itertools.islice(records, offset + count) if isinstance(r, Document)]
    return docs[offset:]


def _queries(count: int) -> list[str]:
    import json

    path = shared_dir() / "data" / "scifact" / "queries.jsonl"
    with path.open() as lines:
        return [json.loads(line)["text"] for line in itertools.islice(lines, count)]


def _create(adapter: EngineAdapter, name: str) -> None:
    """Tandem's default layout with 3 primaries and 1 replica each."""
    spec = dataclasses.replace(
        default_spec(name, ("title", "text"), 384, True), shards=NODES, replicas=1
    )
    adapter.create_index(name, build_index_body(spec, adapter.capabilities, model_dims=384))


def _health(adapter: EngineAdapter, index: str = "", **wait: str) -> Any:
    """``_cluster/health`` (of ``index``), waiting up to the API's 30 s for ``wait`` (its
    ``wait_for_*`` parameters). (opensearch-py takes a ``timeout`` parameter for its own.)"""
    params = {f"wait_for_{k}": v for k, v in wait.items()}
    return adapter.request("GET", f"/_cluster/health/{index}", params=params, what="health")


def _ingest(
    adapter: EngineAdapter,
    name: str,
    docs: list[Document],
    models: tuple[DenseEncoder, SpladeEncoder],
    progress: Any = None,
    memo: bool = False,
) -> Any:
    """Ingest ``docs``; ``memo``: with encodings kept across clusters (not for an ingest
    whose timing matters, such as one a node is killed during)."""
    dense, sparse = models
    return Ingestor(
        BulkWriter(adapter, name, BulkOptions(max_docs=16)),
        SourceBuilder(
            FieldMap(), dense, sparse, pool=MemoEncoders(dense, sparse) if memo else None
        ),
        IngestOptions(batch_size=16, flush_seconds=0.5),
        progress=progress,
    ).run(docs)


@pytest.fixture(scope="module")
def sliced(
    cluster: EngineHandle, models: tuple[DenseEncoder, SpladeEncoder]
) -> Iterator[tuple[Searcher, str]]:
    """The first SciFact abstracts, indexed over the cluster's three nodes."""
    adapter = connect(cluster.url)
    name = f"tandem-cluster-{uuid.uuid4().hex[:8]}"
    _create(adapter, name)
    _health(adapter, name, status="green")
    report = _ingest(adapter, name, _scifact(SLICE), models, memo=True)
    assert (report.indexed, report.failures) == (SLICE, [])
    adapter.refresh(name)
    dense, sparse = models
    spec = default_spec(name, ("title", "text"), 384, True)
    yield Searcher(adapter, dense, sparse, sparse_field_type(spec, adapter.capabilities)), name
    adapter.delete_index(name)
    adapter.close()


def test_the_index_spreads_over_every_node(cluster: EngineHandle, sliced: Any) -> None:
    _, name = sliced
    shards = client_for(cluster).cat.shards(index=name, format="json")
    rows = shards.body if hasattr(shards, "body") else shards
    assert len(rows) == 2 * NODES and {r["state"] for r in rows} == {"STARTED"}
    assert len({r["node"] for r in rows}) == NODES


@pytest.mark.parametrize("method", ["rrf", "linear"])
def test_auto_fuses_a_multi_shard_index_the_same_on_every_engine(sliced: Any, method: str) -> None:
    """``auto`` fuses a 3-shard index in the sidecar: OpenSearch's native fusion depends
    on the sharding (docs/fusion.md), and Elasticsearch's Basic licence has none.
    ``native`` still runs where the engine has it; how far it is from the sidecar's
    ranking is printed (and recorded in docs/fusion.md)."""
    searcher, name = sliced
    common: dict[str, Any] = {"method": method, "normalization": "min_max"}
    differ = []
    for text in _queries(QUERIES):
        auto = searcher.search(name, text, SearchOptions(**common))
        assert auto.mode == "sidecar"
        sidecar = searcher.search(name, text, SearchOptions(mode="sidecar", size=40, **common))
        assert [h.id for h in auto.hits] == [h.id for h in sidecar.hits[:10]]
        caps = searcher.adapter.capabilities
        if caps.kind is EngineKind.ELASTICSEARCH and method not in caps.retrievers:
            continue
        native = searcher.search(name, text, SearchOptions(mode="native", **common))
        assert native.mode == "native" and len(native.hits) == 10
        ranked = [(h.id, h.score) for h in sidecar.hits]
        if not top10_agree_up_to_ties([h.id for h in native.hits], ranked):
            differ.append(text)
    print(f"\n{method}/min_max on 3 shards: native differs from sidecar on {len(differ)}/{QUERIES}")


def test_pages_concatenate_across_nodes(sliced: Any) -> None:
    searcher, name = sliced
    for text in _queries(5):
        whole = searcher.search(name, text, SearchOptions(size=30)).hits
        pages = [
            searcher.search(name, text, SearchOptions(start=start, size=10)).hits
            for start in (0, 10, 20)
        ]
        assert [h.id for page in pages for h in page] == [h.id for h in whole]


def _kill_a_node(cluster: EngineHandle) -> None:
    """SIGKILL the last node (the client talks to the first)."""
    pid, _ = cluster.peers[-1]
    os.killpg(pid, signal.SIGKILL)


def test_a_node_killed_mid_run_loses_nothing_from_ingest_or_enrich(
    cluster: EngineHandle, sliced: Any, models: tuple[DenseEncoder, SpladeEncoder]
) -> None:
    client = client_for(cluster)
    adapter = connect(cluster.url)
    # The application's own index, for enrich (3 primaries, 1 replica).
    user = f"user-{uuid.uuid4().hex[:8]}"
    create_user_index(client, cluster, user, knn=True, shards=NODES)
    client.indices.put_settings(index=user, body={"index": {"number_of_replicas": 1}})
    bulk(client, cluster, user, scifact_docs(ON_THE_DEAD_NODE, offset=1000))
    # A Tandem index, for ingest.
    target = f"tandem-cluster-{uuid.uuid4().hex[:8]}"
    _create(adapter, target)
    for index in (user, target):
        _health(adapter, index, status="green")

    the_plan = plan(adapter, EnrichRequest(user, ("title", "body"), 384, True))
    dense, sparse = models
    enricher = Enricher(
        adapter,
        the_plan,
        dense,
        sparse,
        models_id("minilm", "splade-tiny"),
        EnrichOptions(page=16, batch_size=16, bulk=BulkOptions(max_docs=16)),
    )
    ingested: list[int] = [0]

    def ingest_progress(snapshot: Snapshot, final: bool) -> None:
        ingested[0] = snapshot.done

    outcome: dict[str, Any] = {}

    def run_ingest() -> None:
        docs = _scifact(ON_THE_DEAD_NODE, offset=2000)
        outcome["ingest"] = _ingest(adapter, target, docs, models, ingest_progress)

    def run_enrich() -> None:
        outcome["enrich"] = enricher.run()

    workers = [threading.Thread(target=run_ingest), threading.Thread(target=run_enrich)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    while (ingested[0] == 0 or enricher.report.enriched == 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ingested[0] > 0 and enricher.report.enriched > 0, "both were under way"
    _kill_a_node(cluster)
    for worker in workers:
        worker.join(timeout=600)
    assert not any(w.is_alive() for w in workers), "ingest and enrich finished"

    ingest = outcome["ingest"]
    assert (ingest.indexed, ingest.failures) == (ON_THE_DEAD_NODE, [])
    held = stored(client, target)
    assert len(held) == ON_THE_DEAD_NODE
    assert all(doc.get("embedding") for doc in held.values())

    report: EnrichReport = outcome["enrich"]
    assert report.failures == [], report.as_dict()
    print(f"\nenrich with a node killed: {report.as_dict()}")
    enriched = stored(client, user)
    assert len(enriched) == ON_THE_DEAD_NODE
    assert stale(enriched) == [], "every document has vectors of its current text"
    # A write whose acknowledgement died with the node conflicts when retried (the
    # promoted copy has a new primary term); it is re-read, found current and counted
    # as rechecked (CI saw 7 of 150), so conflicts complete the account.
    assert report.enriched + report.unchanged + report.conflicts >= ON_THE_DEAD_NODE
    adapter.close()


def test_search_answers_while_the_cluster_is_yellow(cluster: EngineHandle, sliced: Any) -> None:
    searcher, name = sliced
    adapter = searcher.adapter
    if _health(adapter)["number_of_nodes"] == NODES:
        _kill_a_node(cluster)  # run on its own: the test above killed none
    _health(adapter, nodes=str(NODES - 1))
    assert _health(adapter, name)["status"] == "yellow"  # replicas unassigned
    for text in _queries(5):
        for method in ("bm25", "rrf"):
            found = searcher.search(name, text, SearchOptions(method=method, size=10))
            assert len(found.hits) == 10, (method, text)
            assert not found.partial, "every shard answered (replicas were promoted)"

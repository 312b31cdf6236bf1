"""OpenSearch 3.6 with ML Commons calls Tandem's HTTP face as its model server.

A real OpenSearch with the ML Commons plugins (``tandem engines up opensearch --with
ml``), a real sidecar with its HTTP face, and ``tandem connect opensearch`` run as a
user runs it. Documents indexed through the ingest pipeline get Tandem's vectors;
``neural`` and ``neural_sparse`` queries with the connected models find what Tandem's
own searches find; with Tandem stopped, OpenSearch says it cannot reach the model and
``tandem health`` says nothing answers.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from tandem.client import TandemClient
from tandem.integration.extras import ML_COMMONS
from tandem.integration.handle import EngineHandle
from tandem.integration.pytest_plugin import EnginePool
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import tandem
from .http import base
from .shared_data import scifact_corpus
from .sidecar import start_sidecar

pytestmark = pytest.mark.integration
# CI runs 3.6; TANDEM_CONNECTOR_VERSION=2.19.6 runs the same tests on 2.19.
VERSION = os.environ.get("TANDEM_CONNECTOR_VERSION", "3.6.0")
PORT = 9240 if VERSION.startswith("3.") else 9250  # apart from the matrix's engines
DOCS = 30
QUERIES = ["vitamin D and infections", "stem cell therapy", "how do antibiotics fail"]


@pytest.fixture(scope="module")
def ml_engine(engine_pool: EnginePool) -> Iterator[EngineHandle]:
    handle = engine_pool.launcher.up(EngineKind.OPENSEARCH, VERSION, PORT, extras=(ML_COMMONS,))
    yield handle
    engine_pool.launcher.stop(handle)


@dataclass(frozen=True)
class Connected:
    sidecar: EmbeddedSidecar
    client: TandemClient
    engine: OpenSearch
    url: str
    models: dict[str, str]
    index: str


def _index_through_the_pipeline(engine: OpenSearch, index: str) -> list[dict[str, Any]]:
    engine.indices.create(
        index=index,
        body={
            "settings": {
                "index": {
                    "knn": True,
                    "number_of_replicas": 0,
                    "default_pipeline": "tandem-ingest",
                    "search.default_pipeline": "tandem-search",
                }
            },
            "mappings": {
                "properties": {
                    "title": {"type": "text"},
                    "text": {"type": "text"},
                    "embedding": {
                        "type": "knn_vector",
                        "dimension": 384,
                        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
                    },
                    "sparse": {"type": "rank_features"},
                }
            },
        },
    )
    docs = scifact_corpus(DOCS)
    lines: list[dict[str, Any]] = []
    for doc in docs:
        lines.append({"index": {"_index": index, "_id": doc["_id"]}})
        lines.append({"title": doc["title"], "text": doc["text"]})
    answer = engine.bulk(body=lines, refresh=True)
    assert not answer["errors"], json.dumps(answer)[:2000]
    return docs


@pytest.fixture(scope="module")
def connected(ml_engine: EngineHandle) -> Iterator[Connected]:
    sidecar = start_sidecar(engine=ml_engine.url, http_port=0, http_host="127.0.0.1")
    engine = OpenSearch(hosts=[ml_engine.url], timeout=120)
    index = f"tandem-connector-{uuid.uuid4().hex[:10]}"
    try:
        done = tandem(
            "connect", "opensearch", "--engine", ml_engine.url,
            "--server-url", base(sidecar), "--pipelines", "--replace", "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        _index_through_the_pipeline(engine, index)
        with TandemClient(sidecar.address, timeout=120) as client:
            yield Connected(sidecar, client, engine, ml_engine.url, report["models"], index)
    finally:
        engine.indices.delete(index=index, ignore_unavailable=True)
        engine.close()
        sidecar.stop()


def test_connect_creates_and_deploys_the_four_models(connected: Connected) -> None:
    assert set(connected.models) == {
        "dense_document",
        "dense_query",
        "sparse_document",
        "sparse_query",
    }
    for model_id in connected.models.values():
        # connect returned once each was DEPLOYED. ML Commons may then put a remote model
        # back through DEPLOYING on its own (CI saw it once on a freshly started node,
        # after the first predictions): it must come back to DEPLOYED, not fail.
        deadline = time.monotonic() + 60
        while True:
            model = connected.engine.transport.perform_request(
                "GET", f"/_plugins/_ml/models/{model_id}"
            )
            if model["model_state"] != "DEPLOYING" or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert model["model_state"] == "DEPLOYED"
    # Again: the same models are found and reused, nothing new is created.
    again = tandem(
        "connect", "opensearch", "--engine", connected.url,
        "--server-url", base(connected.sidecar), "--json",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["models"] == connected.models
    assert all(report["reused"].values())


def test_ingest_pipeline_writes_tandems_own_vectors(connected: Connected) -> None:
    found = connected.engine.search(
        index=connected.index, body={"size": DOCS, "query": {"match_all": {}}}
    )
    sources = {h["_id"]: h["_source"] for h in found["hits"]["hits"]}
    assert len(sources) == DOCS
    ids = sorted(sources)
    texts = [sources[i]["text"] for i in ids]
    dense = connected.client.encode_dense(texts).vectors
    stored = np.asarray([sources[i]["embedding"] for i in ids], dtype=np.float32)
    np.testing.assert_allclose(stored, dense, atol=1e-5)
    sparse = connected.client.encode_sparse(texts).vectors
    for i, terms in zip(ids, sparse, strict=True):
        weights = sources[i]["sparse"]
        assert set(weights) == {t.token for t in terms}
        assert all(abs(weights[t.token] - t.value) <= 1e-5 * max(1.0, t.value) for t in terms)


def _ids(answer: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in answer["hits"]["hits"]]


@pytest.mark.parametrize("query", QUERIES)
def test_neural_query_finds_what_tandems_dense_search_finds(
    connected: Connected, query: str
) -> None:
    neural = {
        "neural": {
            "embedding": {"query_text": query, "model_id": connected.models["dense_query"], "k": 10}
        }
    }
    answer = connected.engine.search(index=connected.index, body={"size": 10, "query": neural})
    tandem_hits = connected.client.search(connected.index, query, SearchOptions(method="dense"))
    assert _ids(answer) == [h.id for h in tandem_hits.hits]
    # Without a model id the index's default search pipeline supplies the query model.
    plain = {"neural": {"embedding": {"query_text": query, "k": 10}}}
    assert _ids(
        connected.engine.search(index=connected.index, body={"size": 10, "query": plain})
    ) == _ids(answer)


@pytest.mark.parametrize("query", QUERIES)
def test_neural_sparse_query_finds_what_tandems_sparse_search_finds(
    connected: Connected, query: str
) -> None:
    model = connected.models["sparse_query"]
    neural = {"neural_sparse": {"sparse": {"query_text": query, "model_id": model}}}
    answer = connected.engine.search(index=connected.index, body={"size": 10, "query": neural})
    tandem_hits = connected.client.search(connected.index, query, SearchOptions(method="sparse"))
    assert _ids(answer) == [h.id for h in tandem_hits.hits]
    scores = [h["_score"] for h in answer["hits"]["hits"]]
    np.testing.assert_allclose(scores, [h.score for h in tandem_hits.hits], rtol=1e-4)


def test_with_tandem_stopped_opensearch_reports_the_connector_error(
    connected: Connected,
) -> None:
    address = connected.sidecar.address
    connected.sidecar.stop()  # the last test of the module: the models lose their server
    model = connected.models["dense_query"]
    with pytest.raises(TransportError) as predict:
        connected.engine.transport.perform_request(
            "POST",
            f"/_plugins/_ml/_predict/text_embedding/{model}",
            body={"text_docs": ["anyone there?"]},
        )
    assert "Error communicating with remote model" in str(predict.value.info)
    assert "Connection refused" in str(predict.value.info)
    with pytest.raises(TransportError) as ingest:
        connected.engine.index(index=connected.index, id="late", body={"text": "too late"})
    assert "Error communicating with remote model" in str(ingest.value.info)
    assert not connected.engine.exists(index=connected.index, id="late")  # nothing half written
    health = tandem("health", "--server", address)
    assert health.returncode != 0
    assert "no sidecar answers" in health.stderr and "connection refused" in health.stderr


def test_connect_refuses_with_what_to_do(
    encoding_sidecar: EmbeddedSidecar, opensearch_engine: EngineHandle
) -> None:
    refused = tandem("connect", "elasticsearch")
    assert refused.returncode == 2 and "Enterprise licence" in refused.stderr
    nobody = tandem("connect", "opensearch", "--server-url", "http://127.0.0.1:1")
    assert nobody.returncode == 2
    assert "no Tandem HTTP face answers at http://127.0.0.1:1" in nobody.stderr
    assert "--http-port" in nobody.stderr
    plain = tandem(
        "connect", "opensearch", "--engine", opensearch_engine.url,
        "--server-url", base(encoding_sidecar),
    )  # fmt: skip
    assert plain.returncode == 2 and "has no ML Commons" in plain.stderr
    assert "--with ml" in plain.stderr

"""A copy (``--strategy reindex``) loses nothing the user had, and brings back nothing
the user deleted while it ran.

Run through a sidecar's ``EnrichIndex`` (the same run as ``tandem enrich``) on a user's
index written with the engine's own client.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tandem.client import EnrichResult, EnrichSettings, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.kinds import EngineKind

from .user_index import bulk, create_user_index, refused_by_a_block, scifact_docs, stale, stored

pytestmark = pytest.mark.integration


def _own_vector_field(engine: EngineHandle) -> dict[str, Any]:
    if engine.kind is EngineKind.ELASTICSEARCH:
        return {"type": "dense_vector", "dims": 4, "similarity": "cosine"}
    method = {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}
    return {"type": "knn_vector", "dimension": 4, "method": method}


def test_a_copy_keeps_the_users_own_vectors(
    engine: EngineHandle,
    engine_client: Any,
    engine_sidecar_client: TandemClient,
    index_name: str,
) -> None:
    create_user_index(engine_client, engine, index_name, knn=True)
    engine_client.indices.put_mapping(
        index=index_name, body={"properties": {"user_vec": _own_vector_field(engine)}}
    )
    docs = scifact_docs(20)
    for n, doc in enumerate(docs):
        doc["user_vec"] = [1.0, float(n), 0.5, -1.0]
    bulk(engine_client, engine, index_name, docs)

    done = engine_sidecar_client.enrich_index(
        EnrichSettings(
            index_name, ["title", "body"], strategy="reindex", alias=f"{index_name}-live"
        )
    )
    assert done.report is not None and done.report["enriched"] == 20
    copy = stored(engine_client, f"{index_name}-live")
    assert stale(copy) == []
    for n, doc in enumerate(docs):
        # Elasticsearch rebuilds a cosine vector from its normalised form: float32 noise.
        expected = pytest.approx([1.0, float(n), 0.5, -1.0], rel=1e-5)
        assert copy[doc["_id"]].get("user_vec") == expected, doc["_id"]


@pytest.mark.newest_engines
def test_documents_deleted_during_a_copy_stay_deleted(
    engine: EngineHandle,
    engine_client: Any,
    engine_sidecar_client: TandemClient,
    index_name: str,
) -> None:
    create_user_index(engine_client, engine, index_name)
    # Two pages (256 each): the deletes come after the first, well before the switch.
    bulk(engine_client, engine, index_name, scifact_docs(500))
    alias = f"{index_name}-live"
    engine_client.indices.put_alias(index=index_name, name=alias)  # the application's
    target = f"{index_name}-tandem-1"
    deleted: dict[str, str] = {}  # id: the index the delete landed in

    def delete(doc_id: str) -> str:
        """Through the alias, sent again if the switch's write block refused it."""
        while True:
            try:
                done = engine_client.delete(index=alias, id=doc_id)
            except Exception as err:
                if not refused_by_a_block(err):
                    raise
                time.sleep(0.05)
                continue
            return str((done.body if hasattr(done, "body") else done)["_index"])

    def delete_some_copied(so_far: EnrichResult) -> None:
        """Once the copy holds documents, the application deletes five of them."""
        if deleted or so_far.progress is None or so_far.progress.phase != "backfill":
            return
        engine_client.indices.refresh(index=target)
        copied = engine_client.search(index=target, body={"size": 5, "_source": False})
        body = copied.body if hasattr(copied, "body") else copied
        for hit in body["hits"]["hits"]:
            deleted[str(hit["_id"])] = delete(str(hit["_id"]))

    done = engine_sidecar_client.enrich_index(
        EnrichSettings(alias, ["title", "body"], strategy="reindex"),
        progress=delete_some_copied,
    )
    assert done.report is not None
    assert len(deleted) == 5, "the application deleted while the copy ran"
    held = stored(engine_client, alias)
    assert sorted(set(deleted) & set(held)) == [], "deleted documents came back"
    assert len(held) == 495 and stale(held) == []
    # Deletes that reached the source before the switch are carried into the copy.
    before_switch = [i for i, landed in deleted.items() if landed == index_name]
    assert before_switch, f"no delete reached the source during the copy: {deleted}"
    assert done.report["deleted"] >= len(before_switch)

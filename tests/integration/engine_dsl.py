"""Request bodies for the smoke tests, per engine.

These are written out by hand on purpose: the smoke tests check what the
engines themselves do, independently of Tandem's mapping builder and rewriter.
"""

from __future__ import annotations

from typing import Any

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.kinds import EngineKind

from .corpus import DIMS, Doc


def sparse_field_types(engine: EngineHandle) -> list[str]:
    """The sparse field types Tandem relies on for this engine line (docs/engines.md).

    Each takes term names as keys. OpenSearch's own ``sparse_vector`` (SEISMIC,
    3.3+) is keyed by token ids and not used by Tandem, so it is not listed.
    """
    if engine.kind is EngineKind.ELASTICSEARCH:
        return ["sparse_vector"]  # rank_features lives in the missing mapper-extras module
    return ["rank_features"]


def mapping(engine: EngineHandle, sparse_type: str, dense: bool = True) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "text": {"type": "text"},
        "category": {"type": "keyword"},
    }
    settings: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0}
    if dense and engine.kind is EngineKind.OPENSEARCH:
        settings["index.knn"] = True
        properties["vector"] = {
            "type": "knn_vector",
            "dimension": DIMS,
            "method": {
                "name": "hnsw",
                "engine": "lucene",  # the Maven k-NN zip has no native faiss libraries
                "space_type": "cosinesimil",
                "parameters": {"m": 16, "ef_construction": 128},
            },
        }
    elif dense:
        properties["vector"] = {
            "type": "dense_vector",
            "dims": DIMS,
            "index": True,
            "similarity": "cosine",
            "index_options": {"type": "hnsw", "m": 16, "ef_construction": 128},
        }
    properties[sparse_type] = {"type": sparse_type}
    return {"settings": settings, "mappings": {"properties": properties}}


def source(engine: EngineHandle, doc: Doc, sparse_type: str, dense: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"text": doc.text, "category": doc.category}
    if dense:
        body["vector"] = doc.vector
    body[sparse_type] = dict(doc.terms)
    return body


def knn_search(
    engine: EngineHandle, vector: list[float], k: int, filter_: dict[str, Any] | None = None
) -> dict[str, Any]:
    if engine.kind is EngineKind.OPENSEARCH:
        clause: dict[str, Any] = {"vector": vector, "k": k}
        if filter_ is not None:
            clause["filter"] = filter_
        return {"size": k, "query": {"knn": {"vector": clause}}}
    knn: dict[str, Any] = {
        "field": "vector",
        "query_vector": vector,
        "k": k,
        "num_candidates": 100,
    }
    if filter_ is not None:
        knn["filter"] = filter_
    return {"size": k, "knn": knn}


def sparse_search(
    engine: EngineHandle, field_type: str, tokens: dict[str, float], size: int
) -> dict[str, Any]:
    if engine.kind is EngineKind.ELASTICSEARCH:
        query = {"sparse_vector": {"field": field_type, "query_vector": tokens}}
    else:
        query = {"neural_sparse": {field_type: {"query_tokens": tokens}}}
    return {"size": size, "query": query}


def create_and_fill(
    engine: EngineHandle, client: Any, index: str, docs: list[Doc], sparse_type: str, dense: bool
) -> None:
    """Create ``index`` and bulk-index ``docs`` with a refresh."""
    client.indices.create(index=index, body=mapping(engine, sparse_type, dense))
    operations: list[dict[str, Any]] = []
    for doc in docs:
        operations.append({"index": {"_index": index, "_id": doc.id}})
        operations.append(source(engine, doc, sparse_type, dense))
    if engine.kind is EngineKind.OPENSEARCH:
        response = client.bulk(body=operations, refresh=True)
    else:
        response = client.bulk(operations=operations, refresh=True)
    assert not response["errors"], [i for i in response["items"] if "error" in i["index"]][:3]

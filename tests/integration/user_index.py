"""An index the way a user's own application writes it: not created by Tandem.

Plain opensearch-py / elasticsearch-py calls: the user's mapping (an English
analyzer, a ``keyword`` field, a nested object), bulk writes, and the checks the
enrich tests make on what is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.enrich.marker import text_hash

from .shared_data import shared_dir

MARKER = "tandem_enrich"


def user_mapping(kind: EngineKind, knn: bool = False, shards: int = 2) -> dict[str, Any]:
    # Elasticsearch's integ-test zip has no analysis-common module (no ``english``
    # analyzer): there the house analyzer is the core one with English stop words.
    english = (
        {"type": "english"}
        if kind is EngineKind.OPENSEARCH
        else {"type": "standard", "stopwords": "_english_"}
    )
    settings: dict[str, Any] = {
        "number_of_shards": shards,
        "number_of_replicas": 0,
        "analysis": {"analyzer": {"house_english": english}},
    }
    if knn:
        settings["knn"] = True
    return {
        "settings": {"index": settings},
        "mappings": {
            "properties": {
                "title": {"type": "text", "analyzer": "house_english"},
                "body": {"type": "text", "analyzer": "house_english"},
                "tag": {"type": "keyword"},
                "year": {"type": "integer"},
                "authors": {"type": "nested", "properties": {"name": {"type": "keyword"}}},
            }
        },
    }


def create_user_index(
    client: Any, engine: EngineHandle, name: str, knn: bool = False, shards: int = 2
) -> None:
    """Create ``name`` as the user would (``knn`` only means something to OpenSearch)."""
    body = user_mapping(engine.kind, knn and engine.kind is EngineKind.OPENSEARCH, shards)
    client.indices.create(index=name, body=body)


def scifact_docs(limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """``limit`` SciFact documents as the user's application stores them."""
    out: list[dict[str, Any]] = []
    with (shared_dir() / "data" / "scifact" / "corpus.jsonl").open() as lines:
        for n, line in enumerate(lines):
            if n < offset:
                continue
            if len(out) >= limit:
                break
            raw = json.loads(line)
            out.append(
                {
                    "_id": str(raw["_id"]),
                    "title": raw.get("title", ""),
                    "body": raw.get("text", ""),
                    "tag": "odd" if n % 2 else "even",
                    "year": 2000 + n % 20,
                    "authors": [{"name": f"author-{n % 7}"}],
                }
            )
    return out


def bulk(client: Any, engine: EngineHandle, index: str, docs: Iterable[Mapping[str, Any]]) -> None:
    """Write ``docs`` (each with its ``_id``) with the client's own bulk helper, refreshed."""
    if engine.kind is EngineKind.OPENSEARCH:
        from opensearchpy import helpers as os_helpers

        os_helpers.bulk(client, _actions(index, docs), refresh=True)
    else:
        from elasticsearch import helpers as es_helpers

        es_helpers.bulk(client, _actions(index, docs), refresh=True)


def _actions(index: str, docs: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        source = {k: v for k, v in doc.items() if k != "_id"}
        yield {"_index": index, "_id": doc["_id"], "_source": source}


def stored(client: Any, index: str) -> dict[str, dict[str, Any]]:
    """Every document of ``index`` (or the alias) by id, with its source."""
    client.indices.refresh(index=index)
    found = client.search(
        index=index,
        body={
            "size": 10_000,
            "query": {"match_all": {}},
            # Elasticsearch 9 leaves vectors out of _source unless asked.
            "_source": {"exclude_vectors": False} if _is_es(client) else True,
            "version": True,
        },
    )
    body = found.body if hasattr(found, "body") else found
    return {
        str(h["_id"]): {**h["_source"], "_version": h.get("_version")} for h in body["hits"]["hits"]
    }


def _is_es(client: Any) -> bool:
    return type(client).__module__.startswith("elasticsearch")


def passage_of(source: Mapping[str, Any]) -> str:
    """The text enrich encodes for ``title,body`` with the default joiner."""
    return "\n".join(
        str(source[f]) for f in ("title", "body") if source.get(f) and str(source[f]).strip()
    )


def stale(docs: Mapping[str, Mapping[str, Any]], dense_field: str = "embedding") -> list[str]:
    """Ids whose stored marker does not match their current text, or that lack vectors."""
    out = []
    for doc_id, source in docs.items():
        marker = source.get(MARKER) or {}
        if marker.get("hash") != text_hash(passage_of(source)) or dense_field not in source:
            out.append(doc_id)
    return sorted(out)


def refused_by_a_block(err: Exception) -> bool:
    """Whether a write failed on an index write block (HTTP 403 ``cluster_block_exception``)."""
    return "cluster_block_exception" in str(err)

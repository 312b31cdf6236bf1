"""The stored fields of a page of hits, fetched after the search.

Searches ask the engine for ids and scores only (``_source: false``): fusion needs
nothing else. The fields a caller wants shown come from one ``ids`` query for the
page's documents, so they cost one small request for ``size`` documents, not
``_source`` on every candidate of every retriever.
"""

from __future__ import annotations

from collections.abc import Sequence

from tandem.plugin.engines.base import EngineAdapter, Json


def field_names(fields: Sequence[str]) -> list[str]:
    """Field names to fetch: boosts (``title^2``) dropped, repeats removed, wildcards kept."""
    names = [f.split("^", 1)[0].strip() for f in fields]
    return list(dict.fromkeys(n for n in names if n))


def fetch_documents(
    adapter: EngineAdapter,
    index: str,
    ids: Sequence[str],
    fields: Sequence[str],
    timeout: float | None = None,
) -> dict[str, Json]:
    """``{id: stored fields}`` for ``ids``, holding only ``fields``; ids the index no
    longer has are left out."""
    if not ids:
        return {}
    body = {
        "query": {"ids": {"values": list(ids)}},
        "_source": field_names(fields),
        "size": len(ids),
    }
    response = adapter.search(index, body, timeout=timeout)
    found: dict[str, Json] = {}
    for hit in response["hits"]["hits"]:
        found.setdefault(str(hit["_id"]), dict(hit.get("_source") or {}))
    return found

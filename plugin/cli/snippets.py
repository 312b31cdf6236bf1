"""A line of each hit's text for ``tandem search``: its title, or the start of its text.

Searches ask the engine for ids and scores only; the page's text comes from one
``ids`` query that fetches only the text fields, so it costs one small request
for ``--size`` documents, not ``_source`` on every candidate of every retriever.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tandem.plugin.engines.base import EngineAdapter

WIDTH = 80
TITLE = "title"


def _field_names(fields: Sequence[str]) -> list[str]:
    """The fields to fetch: boosts dropped, wildcards left to the engine."""
    names = [f.split("^", 1)[0].strip() for f in fields]
    return list(dict.fromkeys(n for n in names if n))


def _value(source: Mapping[str, Any], name: str) -> str:
    node: Any = source.get(name)
    if node is None and "." in name:  # a field inside an object
        node = source
        for part in name.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, list):
        node = " ".join(str(v) for v in node if isinstance(v, str | int | float))
    if isinstance(node, bool) or not isinstance(node, str | int | float):
        return ""
    return " ".join(str(node).split())


def snippet(source: Mapping[str, Any], fields: Sequence[str]) -> str | None:
    """The title when ``fields`` has one, else the first text, cut to :data:`WIDTH`."""
    names = _field_names(fields)
    ordered = [TITLE, *[n for n in names if n != TITLE]] if TITLE in names else names
    for name in ordered:
        text = _value(source, name)
        if text:
            return text if len(text) <= WIDTH else text[: WIDTH - 1].rstrip() + "…"
    return None


def fetch_snippets(
    adapter: EngineAdapter, index: str, ids: Sequence[str], fields: Sequence[str]
) -> dict[str, str]:
    """``{id: snippet}`` for the hits of one page (ids without text are left out)."""
    if not ids:
        return {}
    body = {
        "query": {"ids": {"values": list(ids)}},
        "_source": _field_names(fields),
        "size": len(ids),
    }
    response = adapter.search(index, body)
    found = {}
    for hit in response["hits"]["hits"]:
        text = snippet(hit.get("_source") or {}, fields)
        if text is not None:
            found[hit["_id"]] = text
    return found

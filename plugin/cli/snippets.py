"""A line of each hit's text for ``tandem search``: its title, or the start of its text.

Searches ask the engine for ids and scores only; the page's text fields come from
:func:`tandem.plugin.search.documents.fetch_documents` (one small request for the page).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.search.documents import fetch_documents, field_names

WIDTH = 80
TITLE = "title"


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
    names = field_names(fields)
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
    found = {}
    for doc_id, source in fetch_documents(adapter, index, ids, fields).items():
        text = snippet(source, fields)
        if text is not None:
            found[doc_id] = text
    return found

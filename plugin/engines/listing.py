"""Index listings from the two requests both engines answer alike.

``GET _cat/indices`` gives names, document counts and store sizes;
``GET */_mapping`` filtered to ``_meta`` gives what marks an index as
Tandem's. Pure: the adapters send the requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import IndexSummary

CAT_COLUMNS = "index,docs.count,store.size"
META_FILTER = "*.mappings._meta"
# Open indices only: hidden ones (and closed ones, which have no counts) stay out.
EXPAND = "open"


def _number(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def index_summaries(
    rows: Sequence[Mapping[str, Any]], mappings: Mapping[str, Any]
) -> list[IndexSummary]:
    """One summary per ``_cat/indices`` row (``bytes=b``), sorted by name, with its ``_meta``."""
    summaries = []
    for row in rows:
        name = str(row["index"])
        entry = mappings.get(name)
        meta = entry.get("mappings", {}).get("_meta") if isinstance(entry, Mapping) else None
        summaries.append(
            IndexSummary(
                name,
                _number(row.get("docs.count")),
                _number(row.get("store.size")),
                dict(meta) if isinstance(meta, Mapping) else {},
            )
        )
    return sorted(summaries, key=lambda s: s.name)

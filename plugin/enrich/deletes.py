"""Deletes made to the source while a copy ran: carried over to the copy, not brought back.

A copy reads the source by sequence number, and a delete leaves nothing to read, so
a document copied and then deleted from the source would live on in the copy, behind
the alias. Once the alias points at the copy and the last catch-up pass has read the
source, :func:`carry_deletes` looks at every document the copy wrote (those at or below
the copy's watermark taken before the switch, and those whose marker names a source
version) and deletes from the copy the ones the source no longer holds. Each delete is
conditional on the copy's ``_seq_no`` and ``_primary_term``, so a document the
application wrote again through the alias meanwhile is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import EngineRequestError

from . import dialect
from .dialect import Hit
from .marker import Marker
from .scan import SeqNoScan

_GONE = (404, 409)  # already deleted, or written again since it was read: keep it


def _copied(hit: Hit, marker_field: str, before_switch: Mapping[int, int], shard: int) -> bool:
    if hit.seq_no <= before_switch.get(shard, -1):
        return True
    marker = Marker.read(hit.source.get(marker_field))
    return marker is not None and marker.source_seq_no is not None


def carry_deletes(
    adapter: EngineAdapter,
    source: str,
    target: str,
    marker_field: str,
    before_switch: Mapping[int, int],
    page: int,
) -> int:
    """Delete from ``target`` the copied documents ``source`` no longer holds; how many."""
    upto = dialect.watermarks(adapter, target)
    adapter.refresh(target)
    deleted = 0
    for shard in sorted(upto):
        scan = SeqNoScan(adapter, target, [marker_field], upto={shard: upto[shard]}, page=page)
        for hits in scan.pages():
            copied = [h for h in hits if _copied(h, marker_field, before_switch, shard)]
            held = dialect.mget(
                adapter, source, [h.id for h in copied], False, {h.id: h.routing for h in copied}
            )
            for hit in copied:
                if hit.id not in held and _delete(adapter, target, hit):
                    deleted += 1
    return deleted


def _delete(adapter: EngineAdapter, index: str, hit: Hit) -> bool:
    params = {"if_seq_no": str(hit.seq_no), "if_primary_term": str(hit.primary_term)}
    if hit.routing:
        params["routing"] = hit.routing
    try:
        adapter.request(
            "DELETE",
            f"/{index}/_doc/{quote(hit.id, safe='')}",
            params=params,
            what=f"deleting {hit.id} from {index} (deleted from the source during the copy)",
        )
    except EngineRequestError as err:
        if err.status in _GONE:
            return False
        raise
    return True

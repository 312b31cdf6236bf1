"""The REST calls enrich needs, as each engine spells them.

Point-in-time differs between the engines (``/_pit`` and ``id`` on Elasticsearch,
``/_search/point_in_time`` and ``pit_id`` on OpenSearch), and ``_shard_doc`` (the
stable point-in-time sort) exists on Elasticsearch and OpenSearch 3, not 2.19.
Everything else (settings, mappings, shard sequence numbers, aliases) is spelled
the same on both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tandem.plugin.engines.base import EngineAdapter, Json
from tandem.plugin.engines.errors import EngineRequestError, IndexNotFound
from tandem.plugin.engines.kinds import EngineKind

KEEP_ALIVE = "10m"  # a point in time outlives a paused (or resumed) run this long


@dataclass(frozen=True)
class Hit:
    """One stored document as enrich reads it."""

    id: str
    source: Mapping[str, Any]
    seq_no: int
    primary_term: int
    routing: str | None = None
    sort: tuple[Any, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Hit:
        return cls(
            str(raw["_id"]),
            raw.get("_source") or {},
            int(raw.get("_seq_no", -1)),
            int(raw.get("_primary_term", 0)),
            raw.get("_routing"),
            tuple(raw.get("sort") or ()),
        )


def has_shard_doc(adapter: EngineAdapter) -> bool:
    """Whether a point in time can be paged by ``_shard_doc``."""
    caps = adapter.capabilities
    return caps.kind is EngineKind.ELASTICSEARCH or caps.version >= (3, 0, 0)


def resolve(adapter: EngineAdapter, name: str) -> tuple[str, Json]:
    """The one concrete index behind ``name`` (an index or an alias) and its settings."""
    found = adapter.request("GET", f"/{name}/_settings", what=f"reading the settings of {name}")
    if len(found) != 1:
        raise EngineRequestError(
            f"{name!r} names {len(found)} indices ({', '.join(sorted(found))}); enrich one "
            "index at a time (name the index, or an alias over a single index)"
        )
    ((index, body),) = found.items()
    settings = body.get("settings", {}).get("index", {})
    return index, settings


def aliases_of(adapter: EngineAdapter, index: str) -> dict[str, Json]:
    """The aliases pointing at ``index`` and their options."""
    found = adapter.request("GET", f"/{index}/_alias", what=f"reading the aliases of {index}")
    body = found.get(index, {})
    return dict(body.get("aliases", {}))


def alias_exists(adapter: EngineAdapter, alias: str) -> list[str]:
    """The indices ``alias`` points at (empty when there is no such alias)."""
    try:
        found = adapter.request("GET", f"/_alias/{alias}", what=f"reading alias {alias}")
    except IndexNotFound:
        return []
    return sorted(found)


def mapping_of(adapter: EngineAdapter, index: str) -> Json:
    return adapter.get_mapping(index)


def put_properties(adapter: EngineAdapter, index: str, properties: Mapping[str, Any]) -> None:
    adapter.request(
        "PUT",
        f"/{index}/_mapping",
        {"properties": dict(properties)},
        what=f"adding fields to the mapping of {index}",
    )


def watermarks(adapter: EngineAdapter, index: str) -> dict[int, int]:
    """Per shard, the sequence number below which every write is in every copy.

    The primaries' global checkpoints: all operations up to it are indexed on all
    in-sync copies, so after a refresh a search sees them.
    """
    found = adapter.request(
        "GET",
        f"/{index}/_stats",
        params={
            "level": "shards",
            "filter_path": "indices.*.shards.*.routing.primary,"
            "indices.*.shards.*.seq_no.global_checkpoint",
        },
        what=f"reading the sequence numbers of {index}",
    )
    shards = found.get("indices", {}).get(index, {}).get("shards", {})
    marks: dict[int, int] = {}
    for shard, copies in shards.items():
        for copy in copies:
            if copy.get("routing", {}).get("primary"):
                marks[int(shard)] = int(copy["seq_no"]["global_checkpoint"])
    if not marks:
        raise EngineRequestError(
            f"{adapter.url} reported no primary shards for {index}: is the index open and "
            "its primaries assigned?"
        )
    return marks


def open_pit(adapter: EngineAdapter, index: str) -> str:
    if adapter.kind is EngineKind.ELASTICSEARCH:
        found = adapter.request(
            "POST",
            f"/{index}/_pit",
            params={"keep_alive": KEEP_ALIVE},
            what=f"opening a point in time on {index}",
        )
        return str(found["id"])
    found = adapter.request(
        "POST",
        f"/{index}/_search/point_in_time",
        params={"keep_alive": KEEP_ALIVE},
        what=f"opening a point in time on {index}",
    )
    return str(found["pit_id"])


def close_pit(adapter: EngineAdapter, pit: str) -> None:
    """Release a point in time; one that has expired already is not an error."""
    try:
        if adapter.kind is EngineKind.ELASTICSEARCH:
            adapter.request("DELETE", "/_pit", {"id": pit}, what="closing a point in time")
        else:
            adapter.request(
                "DELETE",
                "/_search/point_in_time",
                {"pit_id": [pit]},
                what="closing a point in time",
            )
    except EngineRequestError:
        pass


def source_filter(adapter: EngineAdapter, source: list[str] | bool) -> Any:
    """A search body's ``_source`` for these fields, or for the whole document (``True``).

    Elasticsearch 9 leaves dense vectors out of ``_source`` unless asked
    (``index.mapping.exclude_source_vectors``), and a copy must carry the user's own."""
    caps = adapter.capabilities
    if source is True and caps.kind is EngineKind.ELASTICSEARCH and caps.version >= (9, 0, 0):
        return {"exclude_vectors": False}
    return source


class ShardsFailed(EngineRequestError):
    """A read answered without some shards (a node left, a primary moving): its hits
    are not every document, so a scan must not go on as if they were."""

    @property
    def retryable(self) -> bool:
        return True


def search(
    adapter: EngineAdapter,
    path: str,
    body: Mapping[str, Any],
    params: Mapping[str, str] | None = None,
    what: str = "reading documents",
) -> Json:
    """One page of a scan; raises :class:`ShardsFailed` when shards did not answer."""
    found = adapter.request("POST", path, body, params=params, what=what)
    shards = found.get("_shards", {})
    if shards.get("failed", 0):
        reasons = sorted(
            {
                str(f.get("reason", {}).get("type") or f.get("reason"))
                for f in shards.get("failures", [])
            }
        )
        raise ShardsFailed(
            f"{what}: {shards['failed']} of {shards.get('total', '?')} shards did not answer "
            f"({', '.join(reasons) or 'no reason given'})",
            error_type="shards_failed",
        )
    return found


def mget(
    adapter: EngineAdapter,
    index: str,
    ids: Sequence[str],
    source: Sequence[str] | bool,
    routing: Mapping[str, str | None] | None = None,
) -> dict[str, Hit]:
    """The stored documents among ``ids`` with their sequence numbers (missing ones left out)."""
    if not ids:
        return {}
    docs: list[Json] = []
    for doc_id in ids:
        entry: Json = {"_id": doc_id}
        if routing and routing.get(doc_id):
            entry["routing"] = routing[doc_id]
        docs.append(entry)
    params = (
        {"_source_includes": ",".join(source)}
        if not isinstance(source, bool)
        else {"_source": "true" if source else "false"}
    )
    found = adapter.request(
        "POST",
        f"/{index}/_mget",
        {"docs": docs},
        params=params,
        what=f"re-reading documents of {index}",
    )
    out: dict[str, Hit] = {}
    for raw in found.get("docs", []):
        if raw.get("found"):
            out[str(raw["_id"])] = Hit.of(raw)
    return out


def update_aliases(adapter: EngineAdapter, actions: Sequence[Mapping[str, Any]]) -> None:
    """Apply alias actions in one atomic request."""
    adapter.request("POST", "/_aliases", {"actions": list(actions)}, what="switching the alias")


def block_writes(adapter: EngineAdapter, index: str) -> None:
    """Refuse writes to ``index`` (``index.blocks.write``).

    The add-index-block API returns once writes already in flight have completed, so
    what the index holds afterwards is final until :func:`lift_write_block`."""
    adapter.request("PUT", f"/{index}/_block/write", what=f"pausing writes to {index}")


def lift_write_block(adapter: EngineAdapter, index: str) -> None:
    """Take ``index.blocks.write`` back to its default (writes allowed)."""
    adapter.request(
        "PUT",
        f"/{index}/_settings",
        {"index": {"blocks": {"write": None}}},
        what=f"lifting the write block of {index} (if this fails: PUT {index}/_settings "
        '{"index.blocks.write": null})',
    )

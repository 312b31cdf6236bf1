"""Reading an index page by page, resumably.

:class:`PitScan` pages a point in time by ``_shard_doc`` (Elasticsearch, OpenSearch
3): a consistent snapshot however the index changes meanwhile. OpenSearch 2.19 has
no ``_shard_doc``, and paging its point in time by ``_doc`` skips documents on an
index with several shards (34 of 40 seen on 3 shards), so there :class:`SeqNoScan`
reads each shard on its own (``preference=_shards:N``) in ``_seq_no`` order, up to
the watermark taken at the start. The same scan, from one watermark to the next,
is how catch-up and follow mode find what was written after the start.

Both scans expose their position (:attr:`position`) for the checkpoint, and start
from one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from tandem.plugin.engines.base import EngineAdapter, Json
from tandem.plugin.engines.errors import EngineRequestError

from . import dialect
from .dialect import Hit

PAGE = 256
# A scan whose shards do not all answer (a node has left) waits for the cluster to move
# its shards and tries again: these many times, this many seconds apart.
SHARD_RETRIES = 12
SHARD_WAIT = 2.5


class PitScan:
    """Every document of ``index`` as of the point in time, in ``_shard_doc`` order.

    A point in time lives on the shard copies it was opened on. When one of them is gone
    (its node left), a page answers without that shard's documents; the scan then
    opens a new point in time and reads from the start again (``on_restart`` is told),
    since ``_shard_doc`` positions mean nothing in another point in time."""

    def __init__(
        self,
        adapter: EngineAdapter,
        index: str,
        source: Sequence[str] | bool,
        page: int = PAGE,
        position: Mapping[str, Any] | None = None,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.adapter = adapter
        self.on_restart = on_restart
        self.restarts = 0
        self.index = index
        self.source: list[str] | bool = source if isinstance(source, bool) else list(source)
        self.page = page
        self.pit: str | None = None
        self.after: list[Any] | None = None
        self.resumed = False
        if position and position.get("kind") == "pit" and position.get("pit"):
            self.pit = str(position["pit"])
            self.after = list(position["after"]) if position.get("after") else None
            self.resumed = True

    @property
    def position(self) -> Json:
        return {"kind": "pit", "pit": self.pit, "after": self.after}

    def _page(self) -> list[Hit]:
        assert self.pit is not None
        body: Json = {
            "size": self.page,
            "pit": {"id": self.pit, "keep_alive": dialect.KEEP_ALIVE},
            "sort": [{"_shard_doc": "asc"}],
            "_source": dialect.source_filter(self.adapter, self.source),
            "seq_no_primary_term": True,
            "track_total_hits": False,
        }
        if self.after is not None:
            body["search_after"] = self.after
        found = dialect.search(self.adapter, "/_search", body, what=f"reading {self.index}")
        self.pit = str(found.get("pit_id", self.pit))
        return [Hit.of(h) for h in found.get("hits", {}).get("hits", [])]

    def pages(self) -> Iterator[list[Hit]]:
        if self.pit is not None:
            try:
                first = self._page()
            except EngineRequestError:
                # The point in time expired (or the cluster restarted): start again; the
                # markers make the documents already done cheap to pass over.
                self.pit, self.after, self.resumed = None, None, False
            else:
                if first:
                    self.after = list(first[-1].sort)
                    yield first
                else:
                    return
        if self.pit is None:
            self.pit = self._open()
        while True:
            try:
                hits = self._page()
            except dialect.ShardsFailed as err:
                self._restart(err)
                continue
            if not hits:
                return
            self.after = list(hits[-1].sort)
            yield hits

    def _open(self) -> str:
        for attempt in range(SHARD_RETRIES):
            try:
                return dialect.open_pit(self.adapter, self.index)
            except EngineRequestError as err:  # shards still moving after a node left
                if attempt == SHARD_RETRIES - 1 or (not err.retryable and err.status != 503):
                    raise
                time.sleep(SHARD_WAIT)
        raise AssertionError("unreachable")

    def _restart(self, err: dialect.ShardsFailed) -> None:
        self.restarts += 1
        if self.restarts > SHARD_RETRIES:
            raise err
        if self.pit is not None:
            dialect.close_pit(self.adapter, self.pit)
        self.pit, self.after = None, None
        if self.on_restart is not None:
            self.on_restart(str(err))
        time.sleep(SHARD_WAIT)
        self.pit = self._open()

    def close(self) -> None:
        if self.pit is not None:
            dialect.close_pit(self.adapter, self.pit)


class SeqNoScan:
    """The documents of each shard with ``after[shard] < _seq_no <= upto[shard]``."""

    def __init__(
        self,
        adapter: EngineAdapter,
        index: str,
        source: Sequence[str] | bool,
        upto: Mapping[int, int],
        after: Mapping[int, int] | None = None,
        page: int = PAGE,
    ) -> None:
        self.adapter = adapter
        self.index = index
        self.source: list[str] | bool = source if isinstance(source, bool) else list(source)
        self.upto = dict(upto)
        self.after = {shard: (after or {}).get(shard, -1) for shard in upto}
        self.page = page

    @property
    def position(self) -> Json:
        return {"kind": "seq_no", "after": {str(k): v for k, v in self.after.items()}}

    def pages(self) -> Iterator[list[Hit]]:
        for shard in sorted(self.upto):
            while self.after[shard] < self.upto[shard]:
                body: Json = {
                    "size": self.page,
                    "query": {
                        "range": {"_seq_no": {"gt": self.after[shard], "lte": self.upto[shard]}}
                    },
                    "sort": [{"_seq_no": "asc"}],
                    "_source": dialect.source_filter(self.adapter, self.source),
                    "seq_no_primary_term": True,
                    "track_total_hits": False,
                }
                found = self._search(shard, body)
                hits = [Hit.of(h) for h in found.get("hits", {}).get("hits", [])]
                if not hits:
                    self.after[shard] = self.upto[shard]
                    break
                if len(hits) < self.page:
                    self.after[shard] = self.upto[shard]
                else:
                    self.after[shard] = hits[-1].seq_no
                yield hits

    def _search(self, shard: int, body: Json) -> Json:
        """One page of ``shard``, waited for while the shard has no copy to answer."""
        for attempt in range(SHARD_RETRIES):
            try:
                return dialect.search(
                    self.adapter,
                    f"/{self.index}/_search",
                    body,
                    params={"preference": f"_shards:{shard}"},
                    what=f"reading shard {shard} of {self.index}",
                )
            except dialect.ShardsFailed:
                if attempt == SHARD_RETRIES - 1:
                    raise
                time.sleep(SHARD_WAIT)
        raise AssertionError("unreachable")

    def close(self) -> None:
        pass

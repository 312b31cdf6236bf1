"""Write the scale corpus into the engine, growing one index size by size.

Documents go through Tandem's own bulk writer (chunks of 500 documents or 5 MiB,
two requests in flight, 429/5xx retried) into an index of Tandem's default
layout. While loading, the index refreshes every 30 s instead of every second,
as a backfill would set it; the setting is put back before measuring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD
from tandem.plugin.index.terms import encode_term
from tandem.plugin.ingest.bulk import BulkOptions, BulkWriter, Pending

from .corpus import Floats, Ints
from .grow import Doc, Grower

CHUNK = 500
LOADING_REFRESH = "30s"


class Store:
    """What was written, kept for exact scoring: dense rows and sparse vectors by id."""

    def __init__(self, capacity: int, dims: int) -> None:
        self.dense: Floats = np.zeros((capacity, dims), dtype=np.float32)
        self.sparse: list[tuple[Ints, Floats]] = []

    def keep(self, doc: Doc) -> None:
        self.dense[len(self.sparse)] = doc.dense
        self.sparse.append((doc.term_ids, doc.weights.astype(np.float32)))

    def __len__(self) -> int:
        return len(self.sparse)


def _source(doc: Doc, names: list[str]) -> dict[str, Any]:
    return {
        "title": doc.title,
        "text": doc.text,
        DEFAULT_DENSE_FIELD: doc.dense.tolist(),
        DEFAULT_SPARSE_FIELD: {
            names[t]: w for t, w in zip(doc.term_ids, doc.weights.tolist(), strict=True)
        },
    }


def _chunks(grower: Grower, store: Store, end: int) -> Iterator[list[Pending]]:
    names = [encode_term(token) for token in grower.encoded.vocabulary]
    chunk: list[Pending] = []
    for i in range(len(store), end):
        doc = grower.doc(i)
        store.keep(doc)
        # The size only cuts chunks by bytes, and chunks here are cut by count: no
        # second serialisation to measure it.
        chunk.append(Pending(doc.id, _source(doc, names), 0))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def grow_to(
    adapter: EngineAdapter,
    index: str,
    grower: Grower,
    store: Store,
    end: int,
    log: Callable[[str], None],
    write: bool = True,
) -> float:
    """Write documents ``len(store)..end``; the seconds it took, refresh included
    (without ``write``, only keep them for exact scoring: the index holds them).

    Raises :class:`RuntimeError` naming the first document the engine refused."""
    started = time.perf_counter()
    first = len(store)
    if not write:
        for i in range(first, end):
            store.keep(grower.doc(i))
        return 0.0
    writer = BulkWriter(adapter, index, BulkOptions(max_docs=CHUNK))
    _refresh_interval(adapter, index, LOADING_REFRESH)
    reported = first
    try:
        with ThreadPoolExecutor(2) as pool:
            running: list[Future[Any]] = []
            for chunk in _chunks(grower, store, end):
                running.append(pool.submit(writer.send, chunk))
                if len(running) > 2:
                    _check(running.pop(0).result())
                if len(store) - reported >= max(10_000, (end - first) // 10):
                    reported = len(store)
                    rate = (reported - first) / (time.perf_counter() - started)
                    log(f"  written {reported:,} of {end:,} documents ({rate:,.0f} docs/s)")
            for future in running:
                _check(future.result())
    finally:
        _refresh_interval(adapter, index, None)
    adapter.refresh(index)
    return time.perf_counter() - started


def _check(results: list[Any]) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(
            f"{len(failed)} documents were refused, the first {failed[0].id} "
            f"({failed[0].status}: {failed[0].reason})"
        )


def _refresh_interval(adapter: EngineAdapter, index: str, value: str | None) -> None:
    body = {"index": {"refresh_interval": value}}
    adapter.request("PUT", f"/{index}/_settings", body, what="set the refresh interval")

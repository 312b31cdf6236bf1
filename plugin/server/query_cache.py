"""Query embeddings already computed: an LRU bounded in entries and in bytes.

A search's query text is encoded by the same models every time it is asked, and
users ask the same things: the next page of a result, a dashboard's fixed query,
a popular question. The cache keeps what an encoder returned for a query text (a
dense vector, a sparse vector), keyed by the model and how it runs (name,
precision, the query encoder) and the text with its whitespace collapsed (the
tokenizers split on whitespace, so ``"a  b"`` and ``"a b"`` encode alike). Search
results are never cached: the index changes, the vectors of a text do not.

The byte bound counts the arrays and the sparse tokens, not Python's object
overhead (about 200 bytes an entry). ``entries=0`` turns the cache off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from tandem.encoders.sparse import SparseVector

V = TypeVar("V")
Key = tuple[str, str]


def normalized(text: str) -> str:
    """The text as the cache keys it: whitespace runs collapsed, ends stripped."""
    return " ".join(text.split())


def size_of(value: object) -> int:
    """Bytes a cached value holds: array data, and a sparse vector's token strings."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, SparseVector):
        tokens = sum(len(t) for t in value.tokens) if value.tokens else 0
        return int(value.ids.nbytes + value.weights.nbytes) + tokens
    raise TypeError(f"cannot size a {type(value).__name__}")


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int


class QueryCache(Generic[V]):
    """An LRU of ``(model key, text) -> value``, safe across threads.

    ``on_lookup(model, hit)`` is told of every lookup (the sidecar's metrics).
    """

    def __init__(
        self,
        entries: int,
        max_bytes: int,
        on_lookup: Callable[[str, bool], None] | None = None,
    ) -> None:
        if entries < 0 or max_bytes < 0:
            raise ValueError("the query cache's entries and bytes must be 0 or more")
        self.max_entries = entries
        self.max_bytes = max_bytes
        self._on_lookup = on_lookup
        self._items: OrderedDict[Key, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, model: str, text: str) -> V | None:
        if not self.enabled:
            return None
        key = (model, normalized(text))
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self._hits += 1
            else:
                self._misses += 1
        if self._on_lookup is not None:
            self._on_lookup(model, found is not None)
        return found[0] if found is not None else None

    def put(self, model: str, text: str, value: V) -> None:
        if not self.enabled:
            return
        size = size_of(value)
        if size > self.max_bytes:
            return  # larger than the whole cache: keep the rest instead
        key = (model, normalized(text))
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._items), self._bytes)

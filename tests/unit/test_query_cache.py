from __future__ import annotations

import numpy as np
import pytest

from tandem.encoders.sparse import SparseVector
from tandem.plugin.server.query_cache import QueryCache, normalized, size_of


def _vector(value: float, dims: int = 4) -> np.ndarray:
    return np.full(dims, value, dtype=np.float32)  # 16 bytes at 4 dims


def test_a_text_is_keyed_with_its_whitespace_collapsed() -> None:
    assert normalized("  vitamin D\tand\n  colds ") == "vitamin D and colds"
    cache: QueryCache[np.ndarray] = QueryCache(10, 1000)
    cache.put("minilm/fp32/query", "vitamin  D", _vector(1.0))
    found = cache.get("minilm/fp32/query", " vitamin D ")
    assert found is not None and found[0] == 1.0
    assert cache.get("minilm/int8/query", "vitamin D") is None  # another model key
    assert cache.get("minilm/fp32/query", "Vitamin D") is None  # case is the model's business


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: QueryCache[np.ndarray] = QueryCache(2, 1000)
    cache.put("m", "a", _vector(1.0))
    cache.put("m", "b", _vector(2.0))
    assert cache.get("m", "a") is not None  # a is now the most recent
    cache.put("m", "c", _vector(3.0))
    assert cache.get("m", "b") is None
    assert cache.get("m", "a") is not None and cache.get("m", "c") is not None
    assert cache.stats().entries == 2


def test_the_byte_bound_holds_and_an_oversized_value_is_not_kept() -> None:
    cache: QueryCache[np.ndarray] = QueryCache(100, 40)
    for i in range(5):
        cache.put("m", str(i), _vector(float(i)))  # 16 bytes each
    stats = cache.stats()
    assert stats.entries == 2 and stats.bytes == 32
    cache.put("m", "huge", _vector(9.0, dims=100))  # 400 bytes > the whole cache
    assert cache.get("m", "huge") is None and cache.stats().entries == 2
    cache.put("m", "3", _vector(3.0))  # replacing an entry does not count it twice
    assert cache.stats().bytes == 32


def test_hits_and_misses_are_counted_and_reported() -> None:
    seen: list[tuple[str, bool]] = []
    cache: QueryCache[np.ndarray] = QueryCache(10, 1000, lambda m, hit: seen.append((m, hit)))
    assert cache.get("m", "a") is None
    cache.put("m", "a", _vector(1.0))
    assert cache.get("m", "a") is not None
    assert seen == [("m", False), ("m", True)]
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)


def test_zero_entries_turns_it_off() -> None:
    cache: QueryCache[np.ndarray] = QueryCache(0, 1000)
    cache.put("m", "a", _vector(1.0))
    assert cache.get("m", "a") is None
    assert cache.stats() == cache.stats().__class__(0, 0, 0, 0)
    with pytest.raises(ValueError, match="0 or more"):
        QueryCache(-1, 10)


def test_sparse_vectors_count_their_tokens() -> None:
    vector = SparseVector(
        np.asarray([1, 2], dtype=np.int64), np.asarray([0.5, 0.25], dtype=np.float32), ("ab", "c")
    )
    assert size_of(vector) == 16 + 8 + 3
    with pytest.raises(TypeError):
        size_of("text")

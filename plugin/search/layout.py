"""Whether an index keeps its dense vectors as passages, learnt from its mapping.

A passage index maps its dense field as ``nested`` (one object per passage, its
vector under :data:`~tandem.plugin.index.spec.PASSAGE_VECTOR`), and kNN over it
is written differently: OpenSearch wraps the ``knn`` query in a ``nested`` query,
Elasticsearch names the inner vector field. Callers name only the dense field.

Searches cost nothing extra for it: a search assumes what it last learnt about the
index (flat, at first). A kNN written for the other layout fails or finds nothing,
which already makes the searcher read the mapping (:mod:`.diagnose`); it then
learns the layout and runs the search again. A rewrite, which sends nothing that
could fail, reads the mapping when the layout is not known.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import EngineRequestError


def holds_passages(mappings: Mapping[str, Any], field: str) -> bool:
    """Whether ``field`` is a ``nested`` field (Tandem's passage layout) in ``mappings``."""
    properties = mappings.get("properties")
    if not isinstance(properties, Mapping):
        return False
    node = properties.get(field)
    return isinstance(node, Mapping) and node.get("type") == "nested"


class LayoutChanged(Exception):
    """The search was written for the other layout; the searcher runs it again."""


class PassageLayouts:
    """Per index and dense field: does it hold passages? (Learnt, never guessed twice.)"""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def known(self, index: str, field: str) -> bool:
        """What was learnt (flat until something else was)."""
        with self._lock:
            return self._known.get((index, field), False)

    def learn(self, index: str, field: str, passages: bool) -> None:
        with self._lock:
            self._known[(index, field)] = passages

    def read(self, adapter: EngineAdapter, index: str, field: str) -> bool:
        """The layout from the index's mapping unless already learnt."""
        with self._lock:
            if (index, field) in self._known:
                return self._known[(index, field)]
        try:
            found = holds_passages(adapter.get_mapping(index), field)
        except EngineRequestError:  # CapabilityError too: a pattern naming several indices
            # An index pattern or alias over several indices, or no such index: write
            # the flat query, and let the engine's answer (or the diagnosis) speak.
            return False
        self.learn(index, field, found)
        return found

    def check(self, mappings: Mapping[str, Any], index: str, field: str, assumed: bool) -> None:
        """Raise :class:`LayoutChanged` (having learnt the truth) when ``mappings`` says
        the search assumed the wrong layout."""
        actual = holds_passages(mappings, field)
        if actual != assumed:
            self.learn(index, field, actual)
            raise LayoutChanged(index)

"""What a caller may ask of one search, checked when the options are built.

Every caller (gRPC, the CLI, Python code) builds a :class:`SearchOptions`, so
these checks hold for all of them; the operator's query allow-list is applied
by the searcher (:mod:`.policy`). Plain data: importing this module loads no
encoder, so the client shares it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .names import (
    DEFAULT_RANK_CONSTANT,
    DEFAULT_SIZE,
    DEFAULT_WINDOW,
    FUSION_METHODS,
    MAX_WINDOW,
    METHODS,
    MODES,
    NORMALIZATIONS,
    RETRIEVERS,
    Method,
    Mode,
    Normalization,
    Retriever,
)

# BM25's fields: the title weighs twice the text. With the cross_fields query (query_dsl)
# and the english analyzer this was the best of 32 settings on SciFact, and it held on
# Cranfield and CISI (benchmarks/lexical.py, docs/results.md).
DEFAULT_FIELDS = ("title^2", "text")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class SearchOptions:
    """How to search: the method, the page (``start``, ``size``), each retriever's
    candidate ``window``, fusion knobs, text ``fields``, user ``filters`` (engine
    query clauses applied to every retriever) and where fusion runs (``mode``).

    ``document_fields`` names stored fields (``_source``) to return with each hit of
    the page, fetched in one more request for the page only; none by default."""

    method: Method = "rrf"
    start: int = 0
    size: int = DEFAULT_SIZE
    window: int = DEFAULT_WINDOW
    normalization: Normalization = "min_max"
    rank_constant: int = DEFAULT_RANK_CONSTANT
    weights: Mapping[str, float] = field(default_factory=dict)
    fields: tuple[str, ...] = DEFAULT_FIELDS
    filters: tuple[Mapping[str, Any], ...] = ()
    mode: Mode = "auto"
    explain: bool = False
    document_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {', '.join(NORMALIZATIONS)}, "
                f"got {self.normalization!r}"
            )
        if self.mode == "native" and self.explain and self.hybrid:
            raise ValueError(
                "explain needs each retriever's rank and score, which only sidecar fusion "
                "keeps: use mode sidecar (or auto, which picks it for explain)"
            )
        self._check_page()
        if not _is_int(self.rank_constant) or self.rank_constant < 1:
            raise ValueError(f"rank_constant must be a positive integer, got {self.rank_constant}")
        self._check_weights()
        self._check_fields()
        self._check_document_fields()
        for i, clause in enumerate(self.filters):
            if not isinstance(clause, Mapping) or not clause:
                raise ValueError(f"filters[{i}] is an empty object; send a query clause")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "filters", tuple(self.filters))
        object.__setattr__(self, "document_fields", tuple(self.document_fields))

    def _check_page(self) -> None:
        if not (_is_int(self.start) and _is_int(self.size) and _is_int(self.window)):
            raise ValueError("start, size and window must be integers")
        if self.start < 0 or self.size < 1:
            raise ValueError("start must be >= 0 and size >= 1")
        if self.start + self.size > MAX_WINDOW:
            raise ValueError(
                f"from + k is {self.start + self.size}; at most {MAX_WINDOW} hits can be paged"
            )
        if self.window > MAX_WINDOW:
            raise ValueError(
                f"window is {self.window}; engines return at most {MAX_WINDOW} candidates"
            )
        if self.window < self.start + self.size:
            raise ValueError(
                f"window ({self.window}) must cover start + size ({self.start + self.size})"
            )

    def _check_weights(self) -> None:
        for name, weight in self.weights.items():
            if name not in RETRIEVERS:
                raise ValueError(
                    f"weights[{name!r}]: unknown retriever; use {', '.join(RETRIEVERS)}"
                )
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ValueError(f"weights[{name!r}] is {weight!r}; weights are numbers")
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"weights[{name!r}] is {weight}; weights must be finite and >= 0")
        if (
            self.hybrid
            and self.weights
            and not any(self.weights.get(name, 1.0) > 0 for name in self.retrievers)
        ):
            raise ValueError(
                f"the weights of retrievers {list(self.retrievers)} are all 0; make at least "
                "one > 0"
            )

    def _check_fields(self) -> None:
        if isinstance(self.fields, str) or not self.fields:
            raise ValueError(f"fields must be a non-empty list of field names, got {self.fields!r}")
        for i, name in enumerate(self.fields):
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"fields[{i}] is empty")

    def _check_document_fields(self) -> None:
        if isinstance(self.document_fields, str):
            raise ValueError(
                f"document_fields must be a list of field names, got {self.document_fields!r}"
            )
        for i, name in enumerate(self.document_fields):
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"document_fields[{i}] is empty; name a stored field")

    @property
    def hybrid(self) -> bool:
        return self.method in FUSION_METHODS

    @property
    def retrievers(self) -> tuple[Retriever, ...]:
        if self.hybrid:
            return RETRIEVERS
        return tuple(r for r in RETRIEVERS if r == self.method)

    @property
    def tries_native(self) -> bool:
        """Whether to try the engine's own fusion (``auto`` keeps explain in the sidecar)."""
        return self.hybrid and (self.mode == "native" or (self.mode == "auto" and not self.explain))

"""One search as the rewriter sees it: the user's text, the encoded query and the knobs.

A :class:`SearchRequest` is engine-neutral and checks itself when built, so a
bad ``k``, a window smaller than ``k`` or a NaN in the query vector fails here
with a message saying what is allowed, before any DSL is written.
:mod:`tandem.plugin.search.rewriter` turns it into request bodies for one engine.

The encoded query comes from the encoders: ``vector`` for the dense retriever,
``sparse_terms`` (raw tokens, not yet name-encoded; the rewriter applies
:func:`tandem.plugin.index.terms.encode_term`) for the sparse one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, SupportsFloat

from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD

from .names import MAX_WINDOW


def _check_count(name: str, value: object, low: int, why: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= MAX_WINDOW:
        raise ValueError(f"{name} must be between {low} and {MAX_WINDOW}{why}, got {value}")
    return value


def _check_name(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty field name, got {value!r}")


def _number(value: object, what: str) -> float:
    if type(value) is float or type(value) is int:
        # The common case, without the Protocol check below: isinstance against
        # SupportsFloat takes microseconds, and a query vector has hundreds of components.
        return float(value)
    if isinstance(value, bool) or not isinstance(value, SupportsFloat):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def _vector(value: Sequence[float]) -> tuple[float, ...]:
    if isinstance(value, str | bytes | Mapping):
        raise ValueError(f"vector must be a sequence of numbers, got {type(value).__name__}")
    numbers = []
    for i, x in enumerate(value):
        number = _number(x, f"vector[{i}]")
        if not math.isfinite(number):
            raise ValueError(f"vector[{i}] is {number}; every component must be finite")
        numbers.append(number)
    if not numbers:
        raise ValueError("vector is empty; pass None to leave the dense retriever out")
    return tuple(numbers)


def _sparse_terms(value: Mapping[str, float]) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"sparse_terms must map tokens to weights, got {type(value).__name__}")
    terms: dict[str, float] = {}
    for token, raw in value.items():
        if not isinstance(token, str):
            raise ValueError(f"sparse term {token!r} must be a string token")
        weight = _number(raw, f"weight of sparse term {token!r}")
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError(
                f"weight of sparse term {token!r} is {weight}; weights must be finite and > 0 "
                "(drop zero-weight terms before searching)"
            )
        terms[token] = weight
    if not terms:
        raise ValueError("sparse_terms is empty; pass None to leave the sparse retriever out")
    return MappingProxyType(terms)


def _filter(i: int, clause: object) -> Mapping[str, Any]:
    if not isinstance(clause, Mapping) or not clause:
        raise ValueError(
            f"filters[{i}] must be a query clause object such as "
            f"{{'term': {{'category': 'news'}}}}, got {clause!r}"
        )
    return clause


@dataclass(frozen=True)
class SearchRequest:
    """One hybrid search: user text, encoded query, result size and candidate window.

    ``k`` is how many fused hits the user gets; ``window`` is how many
    candidates each retriever returns before fusion, so it is at least ``k``.
    ``fields`` are the BM25 text fields (``"title^2"`` boosts work).
    ``filters`` are engine JSON query clauses that every retriever applies.
    ``vector`` / ``sparse_terms`` are ``None`` when that retriever is not used.
    ``passages``: ``dense_field`` is nested, and a document scores as its best passage.
    Sequences are frozen to tuples and mappings to read-only copies.
    """

    index: str
    text: str
    k: int = 10
    fields: tuple[str, ...] = ("title", "text")
    dense_field: str = DEFAULT_DENSE_FIELD
    sparse_field: str = DEFAULT_SPARSE_FIELD
    filters: tuple[Mapping[str, Any], ...] = ()
    window: int = 100
    vector: Sequence[float] | None = None
    sparse_terms: Mapping[str, float] | None = None
    # The dense field is nested, one vector per passage (see tandem.plugin.search.layout).
    passages: bool = False

    def __post_init__(self) -> None:
        _check_name("index", self.index)
        if not isinstance(self.text, str):
            raise ValueError(f"text must be a string, got {type(self.text).__name__}")
        _check_count("k", self.k, 1, "")
        _check_count(
            "window",
            self.window,
            self.k,
            " (candidates per retriever before fusion: at least k)",
        )
        if isinstance(self.fields, str):
            raise ValueError(f"fields must be a sequence of field names, got {self.fields!r}")
        fields = tuple(self.fields)
        if not fields:
            raise ValueError("fields is empty; name at least one text field for BM25")
        for name in fields:
            _check_name("every BM25 field", name)
        object.__setattr__(self, "fields", fields)
        _check_name("dense_field", self.dense_field)
        _check_name("sparse_field", self.sparse_field)
        if isinstance(self.filters, Mapping):
            raise ValueError("filters must be a sequence of query clauses, not one clause")
        object.__setattr__(
            self, "filters", tuple(_filter(i, c) for i, c in enumerate(self.filters))
        )
        if self.vector is not None:
            object.__setattr__(self, "vector", _vector(self.vector))
        if self.sparse_terms is not None:
            object.__setattr__(self, "sparse_terms", _sparse_terms(self.sparse_terms))

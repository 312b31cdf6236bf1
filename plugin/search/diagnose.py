"""Why a retriever failed or found nothing: the index lacks the field it searches.

Engines say this badly or not at all. OpenSearch fails a kNN or sparse query on
a missing field with "all shards failed"; Elasticsearch answers 0 hits, as both
do for BM25 over text fields the index does not have. So when a retriever
failed or found nothing, the searcher reads the index's mapping once and, if a
field is missing or of the wrong type, raises :class:`MissingField`, which names
the index, the field, the retriever and what to do. Only those paths pay for the
extra request; a search that found something is never checked.

The advice names the search options as the caller spells them: ``dense_field``,
``fields`` and ``method`` for the gRPC API and Python (the message of the
exception), ``--dense-field`` and the like for the CLI (:meth:`MissingField.message`,
and :meth:`MissingField.reword` for a message that came back from a sidecar).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.errors import CapabilityError, EngineRequestError
from tandem.plugin.index.spec import PASSAGE_VECTOR

# How a caller names the options the advice points to: the API's field names here.
API_TERMS: Mapping[str, str] = {
    "dense_field": "dense_field",
    "sparse_field": "sparse_field",
    "fields": "fields",
    "method": "method",
}
_ADVICE = {
    "dense": (
        "name the field that holds its vectors with {dense_field}, or search with {method} bm25"
    ),
    "sparse": (
        "name the field that holds its sparse terms with {sparse_field}, "
        "or search with {method} bm25"
    ),
    "bm25": "name the fields that hold its text with {fields}, or search with {method} dense",
}
_SHAPE = re.compile(
    r"^(index '.*' .* for the (bm25|dense|sparse) retriever.*?): (?=name the )", re.DOTALL
)
_VECTOR_TYPES = ("knn_vector", "dense_vector")
_SPARSE_TYPES = ("rank_features", "sparse_vector")
_TEXT_TYPES = ("text", "match_only_text")
_SHOWN = 5


def advice(retriever: str, terms: Mapping[str, str] = API_TERMS) -> str:
    return _ADVICE[retriever].format_map(terms)


class MissingField(CapabilityError):
    """``index`` has no usable field for ``retriever``; ``problem`` says which and why.

    A :class:`~tandem.plugin.engines.errors.CapabilityError`: the request is well
    formed but the index is not what it expects (gRPC ``FAILED_PRECONDITION``).
    """

    def __init__(self, index: str, retriever: str, problem: str) -> None:
        self.index = index
        self.retriever = retriever
        self.problem = problem
        super().__init__(self.message(API_TERMS))

    def message(self, terms: Mapping[str, str]) -> str:
        """The message with the advice in ``terms`` (keys as in :data:`API_TERMS`)."""
        return f"{self.problem}: {advice(self.retriever, terms)}"

    @staticmethod
    def reword(text: str, terms: Mapping[str, str]) -> str | None:
        """A :class:`MissingField` message (from a sidecar, say) with its advice in
        ``terms``; ``None`` when ``text`` is not such a message."""
        match = _SHAPE.match(text)
        if match is None:
            return None
        return f"{match.group(1)}: {advice(match.group(2), terms)}"


def field_type(mappings: Mapping[str, Any], name: str) -> str | None:
    """The mapped type of ``name`` in an index's ``mappings``, ``None`` when it is absent.

    Dotted names reach into objects (``meta.title``) and multi-fields
    (``title.english``); an object without a type is ``object``.
    """
    runtime = mappings.get("runtime")
    if isinstance(runtime, Mapping) and isinstance(runtime.get(name), Mapping):
        return str(runtime[name].get("type", "runtime"))
    properties = mappings.get("properties")
    if not isinstance(properties, Mapping):
        return None
    return _lookup(properties, name.split("."))


def _lookup(properties: Mapping[str, Any], parts: Sequence[str]) -> str | None:
    # Field names may hold dots themselves (subobjects: false), so try every split.
    for cut in range(len(parts), 0, -1):
        node = properties.get(".".join(parts[:cut]))
        if not isinstance(node, Mapping):
            continue
        rest = parts[cut:]
        if not rest:
            return str(node.get("type", "object"))
        for child in ("properties", "fields"):
            inner = node.get(child)
            if isinstance(inner, Mapping):
                found = _lookup(inner, rest)
                if found is not None:
                    return found
    return None


def fields_of_type(mappings: Mapping[str, Any], types: Sequence[str]) -> list[str]:
    """Every field of ``mappings`` (objects and multi-fields included) of one of ``types``."""
    found: list[str] = []
    properties = mappings.get("properties")
    if isinstance(properties, Mapping):
        _collect(properties, "", types, found)
    return found


def _collect(
    properties: Mapping[str, Any], prefix: str, types: Sequence[str], out: list[str]
) -> None:
    for name, node in properties.items():
        if not isinstance(node, Mapping):
            continue
        path = f"{prefix}{name}"
        if node.get("type") in types:
            out.append(path)
        for child in ("properties", "fields"):
            inner = node.get(child)
            if isinstance(inner, Mapping):
                _collect(inner, f"{path}.", types, out)


def _its(mappings: Mapping[str, Any], types: Sequence[str], what: str) -> str:
    """`` (its text fields: 'body')``: what the index has instead, if anything."""
    found = fields_of_type(mappings, types)
    if not found:
        return f" (it has no {what})"
    shown = ", ".join(repr(f) for f in found[:_SHOWN])
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    return f" (its {what}: {shown}{more})"


def _field_name(field: str) -> str:
    """``title^2`` is the field ``title``."""
    return field.split("^", 1)[0].strip()


def problem(
    mappings: Mapping[str, Any],
    index: str,
    retriever: str,
    fields: Sequence[str],
    dense_field: str,
    sparse_field: str,
) -> MissingField | None:
    """What ``mappings`` lacks for ``retriever``, or ``None`` when its fields are there."""
    if retriever == "bm25":
        names = [_field_name(f) for f in fields]
        if any("*" in n for n in names) or any(field_type(mappings, n) for n in names):
            return None
        listed = ", ".join(repr(n) for n in names)
        noun = "text field" if len(names) == 1 else "text fields"
        return MissingField(
            index,
            retriever,
            f"index {index!r} has none of the {noun} {listed} for the bm25 retriever"
            + _its(mappings, _TEXT_TYPES, "text fields"),
        )
    field, wanted, what = (
        (dense_field, _VECTOR_TYPES, "vector fields")
        if retriever == "dense"
        else (sparse_field, _SPARSE_TYPES, "sparse fields")
    )
    found = field_type(mappings, field)
    if found in wanted:
        return None
    inner = field_type(mappings, f"{field}.{PASSAGE_VECTOR}")
    if retriever == "dense" and found == "nested" and inner in wanted:
        return None  # passages: a nested field of vectors
    if found is None:
        where = f"index {index!r} has no field {field!r}"
    else:
        where = f"index {index!r} maps {field!r} as {found}, not as {' or '.join(wanted)},"
    return MissingField(
        index,
        retriever,
        f"{where} for the {retriever} retriever" + _its(mappings, wanted, what),
    )


def read_mapping(adapter: EngineAdapter, index: str) -> Mapping[str, Any] | None:
    """``index``'s mapping, ``None`` when the engine will not show one (a pattern naming
    several indices, a missing index)."""
    try:
        return adapter.get_mapping(index)
    except EngineRequestError:  # CapabilityError too: a pattern naming several indices
        return None


def first_problem(
    mappings: Mapping[str, Any] | None,
    index: str,
    retrievers: Sequence[str],
    fields: Sequence[str],
    dense_field: str,
    sparse_field: str,
) -> MissingField | None:
    """The first of ``retrievers`` whose field ``mappings`` lacks.

    ``None`` when every field is there, or when there is no mapping to read (an
    index pattern naming several indices, a mapping the engine will not show): then
    the engine's own answer stands.
    """
    if mappings is None:
        return None
    for retriever in retrievers:
        found = problem(mappings, index, retriever, fields, dense_field, sparse_field)
        if found is not None:
            return found
    return None


def engine_reason(error: Any) -> str:
    """A failed sub-search's reason with its root cause: "all shards failed" alone
    says nothing."""
    if not isinstance(error, Mapping):
        return str(error)
    reason = str(error.get("reason", error))
    causes = error.get("root_cause")
    if isinstance(causes, list) and causes and isinstance(causes[0], Mapping):
        cause = causes[0].get("reason")
        if cause and str(cause) != reason:
            return f"{reason} ({cause})"
    return reason

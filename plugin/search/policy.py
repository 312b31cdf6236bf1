"""Which engine query types users may send (filters and the ``tandem`` clause's query).

User filters and user DSL reach the engine as given, so they are checked
against an allow-list of query types first. Scripts (``script``,
``script_score``, and functions with scripts) are refused unless the operator
enables them (``tandem serve --allow-scripts``); anything not on the list is
refused too. Errors name the JSON path of the offending clause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Leaf queries: their body is field -> options, never a nested query.
LEAF = frozenset(
    {
        "term", "terms", "terms_set", "range", "exists", "prefix", "wildcard", "regexp",
        "fuzzy", "ids", "match", "match_phrase", "match_phrase_prefix", "match_bool_prefix",
        "multi_match", "combined_fields", "query_string", "simple_query_string", "match_all",
        "match_none", "geo_distance", "geo_bounding_box", "geo_shape", "rank_feature",
        "knn", "neural_sparse", "sparse_vector", "text_expansion", "more_like_this",
    }
)  # fmt: skip
# Compound queries: where their sub-queries sit.
COMPOUND: dict[str, tuple[str, ...]] = {
    "bool": ("must", "filter", "should", "must_not"),
    "constant_score": ("filter",),
    "dis_max": ("queries",),
    "boosting": ("positive", "negative"),
    "nested": ("query",),
    "has_child": ("query",),
    "has_parent": ("query",),
}
SCRIPTED = frozenset({"script", "script_score", "function_score"})
ALLOWED = LEAF | frozenset(COMPOUND)


class QueryNotAllowed(ValueError):
    """A user query uses a type the operator has not allowed."""


def check_query(clause: Any, path: str, allow_scripts: bool = False) -> None:
    """Raise :class:`QueryNotAllowed` (naming ``path``) for a disallowed query type."""
    if not isinstance(clause, Mapping) or len(clause) != 1:
        raise QueryNotAllowed(f"{path}: a query clause is an object with one query type")
    ((kind, body),) = clause.items()
    where = f"{path}.{kind}"
    if kind in SCRIPTED:
        if allow_scripts:
            return
        raise QueryNotAllowed(
            f"{where}: {kind} queries run scripts and are off; an operator can enable them "
            "with tandem serve --allow-scripts"
        )
    if kind == "tandem":
        return  # the DSL extension's own clause, checked by its parser
    if kind not in ALLOWED:
        raise QueryNotAllowed(
            f"{where}: query type {kind!r} is not allowed; allowed: {', '.join(sorted(ALLOWED))}"
        )
    for slot in COMPOUND.get(kind, ()):
        if not isinstance(body, Mapping) or slot not in body:
            continue
        value = body[slot]
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            suffix = f"[{i}]" if isinstance(value, list) else ""
            check_query(item, f"{where}.{slot}{suffix}", allow_scripts)


@dataclass(frozen=True)
class QueryPolicy:
    """The operator's rules for user-supplied query JSON, applied by the searcher to
    every search whatever its transport (gRPC, CLI, Python)."""

    allow_scripts: bool = False

    def check(self, filters: Sequence[Mapping[str, Any]], dsl: Mapping[str, Any] | None) -> None:
        """Raise :class:`QueryNotAllowed` for a filter or user query the policy refuses."""
        if dsl is not None:
            check_query(dsl, "query", self.allow_scripts)
        for i, clause in enumerate(filters):
            check_query(clause, f"filters[{i}]", self.allow_scripts)

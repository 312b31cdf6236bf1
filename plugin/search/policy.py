"""What user query JSON may hold: the filters and the ``tandem`` clause's query.

User filters and user DSL reach the engine as given, so the policy walks every
object of them, at any depth, before anything is sent:

- every query clause it can place (the top, compound slots, ``knn`` and
  ``neural_sparse`` filters, ``highlight_query``) must be of a type on the
  allow-list;
- scripts anywhere (``script``, ``script_score``, ``script_fields``, ``_script``
  sorts, ``*_script`` options such as ``minimum_should_match_script``, and the
  ``script``, ``script_score`` and ``function_score`` queries) are refused unless
  the operator allows them (``tandem serve --allow-scripts``);
- reads of other documents or indices (``terms`` lookups, ``more_like_this``
  documents, ``indexed_shape``, ``percolate`` of a stored document, ``pinned``
  documents) are refused unless the operator allows them
  (``tandem serve --allow-cross-index-queries``);
- ``wrapper`` (a base64-encoded query nobody can check) is always refused, and so
  is a ``tandem`` clause in a filter.

Field names are data, not DSL: in a leaf query keyed by field (``term``,
``match``, ``range``, ...), an inner-hits sort or a highlight's ``fields``, a
field literally named ``script`` or ``wrapper`` is fine, and so are sparse query
tokens (``query_tokens``, ``query_vector``). Errors name the JSON path of the
offending key and say how to allow it where an operator can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Leaf queries: no sub-queries except where SLOTS says.
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

# Queries whose body is keyed by field name (plus a few scalar options such as boost).
FIELD_KEYED = frozenset(
    {
        "term", "terms", "terms_set", "range", "prefix", "wildcard", "regexp", "fuzzy",
        "match", "match_phrase", "match_phrase_prefix", "match_bool_prefix", "geo_distance",
        "geo_bounding_box", "geo_shape", "knn", "neural_sparse", "text_expansion",
    }
)  # fmt: skip
# Sub-queries in a body (Elasticsearch's knn query) or in a field's options
# (OpenSearch's knn, neural_sparse), as key paths; the scripted queries' slots are
# walked only when scripts are allowed.
SLOTS: dict[str, tuple[tuple[str, ...], ...]] = {
    **{kind: tuple((slot,) for slot in slots) for kind, slots in COMPOUND.items()},
    "knn": (("filter",),),
    "neural_sparse": (("method_parameters", "filter"),),
    "function_score": (("query",), ("functions", "filter")),
    "script_score": (("query",),),
}
# Options that hold data (sparse tokens -> weights), never DSL.
DATA: dict[str, frozenset[str]] = {
    "neural_sparse": frozenset({"query_tokens"}),
    "sparse_vector": frozenset({"query_vector"}),
}
CROSS_INDEX_KINDS = frozenset({"terms", "more_like_this", "percolate", "pinned"})
SCRIPT_KEYS = frozenset({"script", "script_score", "script_fields", "_script"})

# JSON nesting the policy reads at most; far deeper than any real query, and well
# inside Python's recursion limit for the walk.
MAX_DEPTH = 100

SCRIPTS_HINT = "an operator can allow them with tandem serve --allow-scripts"
CROSS_INDEX_HINT = "an operator can allow it with tandem serve --allow-cross-index-queries"


class QueryNotAllowed(ValueError):
    """A user query uses something the operator has not allowed."""


def is_script_key(key: object) -> bool:
    return key in SCRIPT_KEYS or str(key).endswith("_script")


def depth(value: Any) -> int:
    """How deeply ``value`` nests objects and lists (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


@dataclass(frozen=True)
class _Walk:
    """One walk over one clause: the switches, and whether the clause is a filter."""

    allow_scripts: bool
    allow_cross_index: bool
    in_filter: bool

    def query(self, clause: Any, path: str) -> None:
        """A clause at a query position: one allowed type, then its body."""
        if not isinstance(clause, Mapping) or len(clause) != 1:
            raise QueryNotAllowed(f"{path}: a query clause is an object with one query type")
        ((kind, body),) = clause.items()
        where = f"{path}.{kind}"
        if kind == "tandem":
            self.key(kind, body, where)  # refused in filters
            self.value(body, where)
            return
        if kind == "wrapper":
            self.key(kind, body, where)  # always refused, with its own reason
        if kind in SCRIPTED:
            if not self.allow_scripts:
                raise QueryNotAllowed(
                    f"{where}: {kind} queries run scripts and are off; {SCRIPTS_HINT}"
                )
        elif kind not in ALLOWED:
            raise QueryNotAllowed(
                f"{where}: query type {kind!r} is not allowed; "
                f"allowed: {', '.join(sorted(ALLOWED))}"
            )
        self.key(kind, body, where)
        self.body(kind, body, where)

    def queries(self, value: Any, path: str) -> None:
        """A slot: one query clause or a list of them."""
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.query(item, f"{path}[{i}]")
        else:
            self.query(value, path)

    def body(self, kind: str, body: Any, path: str) -> None:
        if not isinstance(body, Mapping):
            self.value(body, path)
            return
        slots = SLOTS.get(kind, ())
        data = DATA.get(kind, frozenset())
        # Elasticsearch's knn query names its field; OpenSearch's is keyed by it.
        if kind in FIELD_KEYED and not (kind == "knn" and isinstance(body.get("field"), str)):
            for name, options in body.items():
                self.field_name(name, path)
                self.options(options, f"{path}.{name}", slots, data)
        else:
            self.options(body, path, slots, data)

    def options(
        self,
        value: Any,
        path: str,
        slots: tuple[tuple[str, ...], ...],
        data: frozenset[str] = frozenset(),
    ) -> None:
        """An options object (or a list of them) whose keys are DSL, with sub-queries
        at ``slots`` and data under the keys in ``data``."""
        if isinstance(value, list) and slots:
            for i, item in enumerate(value):
                self.options(item, f"{path}[{i}]", slots, data)
            return
        if not isinstance(value, Mapping):
            self.value(value, path)
            return
        for key, item in value.items():
            where = f"{path}.{key}"
            self.key(key, item, where)
            inner = tuple(slot[1:] for slot in slots if slot[0] == key)
            if () in inner:
                self.queries(item, where)
            elif inner:
                self.options(item, where, inner)
            elif key == "inner_hits":
                self.inner_hits(item, where)
            elif key not in data:
                self.value(item, where)

    def inner_hits(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            self.value(value, path)
            return
        for key, item in value.items():
            where = f"{path}.{key}"
            self.key(key, item, where)
            if key == "sort":
                entries = item if isinstance(item, list) else [item]
                for i, entry in enumerate(entries):
                    self.by_field(entry, f"{where}[{i}]" if isinstance(item, list) else where)
            elif key == "highlight" and isinstance(item, Mapping):
                for part, detail in item.items():
                    self.key(part, detail, f"{where}.{part}")
                    if part == "fields":
                        self.by_field(detail, f"{where}.{part}")
                    elif part == "highlight_query":
                        self.query(detail, f"{where}.{part}")
                    else:
                        self.value(detail, f"{where}.{part}")
            else:
                self.value(item, where)

    def by_field(self, value: Any, path: str) -> None:
        """An object keyed by field name (a sort entry, highlight fields)."""
        if not isinstance(value, Mapping):
            self.value(value, path)
            return
        for name, item in value.items():
            self.field_name(name, path)
            self.value(item, f"{path}.{name}")

    def field_name(self, name: str, path: str) -> None:
        # _script is never a field name (names starting with _ are the engine's own).
        if name == "_script":
            self.key(name, None, f"{path}.{name}")

    def value(self, value: Any, path: str) -> None:
        """Any JSON value: every key of every object is read as DSL."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                where = f"{path}.{key}"
                self.key(key, item, where)
                self.value(item, where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.value(item, f"{path}[{i}]")

    def key(self, key: str, value: Any, path: str) -> None:
        """Refuse a DSL key (not a field name) that the policy forbids."""
        if is_script_key(key) and not self.allow_scripts:
            raise QueryNotAllowed(
                f"{path}: {key} runs a script and scripts are off; {SCRIPTS_HINT}"
            )
        if key == "wrapper":
            raise QueryNotAllowed(
                f"{path}: wrapper queries hide a base64-encoded query that cannot be checked; "
                "send the query itself as JSON"
            )
        if key == "tandem" and self.in_filter:
            raise QueryNotAllowed(
                f"{path}: a tandem clause cannot be a filter (filters apply to every "
                "retriever); put it in the query DSL (query_dsl_json) where the hybrid "
                "search belongs"
            )
        if key == "indexed_shape" and not self.allow_cross_index:
            self.refuse_cross_index(path, "indexed_shape reads a shape from a stored document")
        if key in CROSS_INDEX_KINDS:
            self.cross_index(key, value, path)

    def cross_index(self, kind: str, body: Any, path: str) -> None:
        """Refuse a query of type ``kind`` that reads other documents or indices."""
        if self.allow_cross_index or not isinstance(body, Mapping):
            return
        if kind == "terms":
            for name, terms in body.items():
                if isinstance(terms, Mapping):
                    self.refuse_cross_index(
                        f"{path}.{name}", "a terms lookup reads the terms from a stored document"
                    )
        elif kind == "more_like_this":
            for key in ("like", "unlike"):
                value = body.get(key)
                many = isinstance(value, list)
                items: list[Any] = value if isinstance(value, list) else [value]
                for i, item in enumerate(items):
                    if isinstance(item, Mapping):
                        self.refuse_cross_index(
                            f"{path}.{key}[{i}]" if many else f"{path}.{key}",
                            "a more_like_this document (_index/_id or doc) is read or analysed "
                            "through an index; give texts instead",
                        )
            for key in ("docs", "ids"):
                if key in body:
                    self.refuse_cross_index(
                        f"{path}.{key}", "more_like_this reads stored documents"
                    )
        elif kind == "percolate" and ("index" in body or "id" in body):
            self.refuse_cross_index(path, "percolate reads a stored document")
        elif kind == "pinned" and "docs" in body:
            self.refuse_cross_index(f"{path}.docs", "pinned documents name other indices")

    @staticmethod
    def refuse_cross_index(path: str, what: str) -> None:
        raise QueryNotAllowed(
            f"{path}: {what}, which can reach indices the caller did not search; {CROSS_INDEX_HINT}"
        )


def check_query(
    clause: Any,
    path: str,
    allow_scripts: bool = False,
    allow_cross_index: bool = False,
    *,
    is_filter: bool = False,
) -> None:
    """Raise :class:`QueryNotAllowed` (naming the JSON path under ``path``) for anything
    in ``clause`` the policy refuses."""
    if depth(clause) > MAX_DEPTH:
        raise QueryNotAllowed(
            f"{path}: nested more than {MAX_DEPTH} levels deep; flatten the query "
            "(a bool query takes many clauses in one list)"
        )
    _Walk(allow_scripts, allow_cross_index, is_filter).query(clause, path)


@dataclass(frozen=True)
class QueryPolicy:
    """The operator's rules for user-supplied query JSON, applied by the searcher to
    every search whatever its transport (gRPC, CLI, Python)."""

    allow_scripts: bool = False
    allow_cross_index: bool = False

    def check(self, filters: Sequence[Mapping[str, Any]], dsl: Mapping[str, Any] | None) -> None:
        """Raise :class:`QueryNotAllowed` for a filter or user query the policy refuses.

        The DSL holds the ``tandem`` clause (its parser checks there is one); filters
        never do."""
        if dsl is not None:
            check_query(dsl, "query", self.allow_scripts, self.allow_cross_index)
        for i, clause in enumerate(filters):
            check_query(
                clause, f"filters[{i}]", self.allow_scripts, self.allow_cross_index, is_filter=True
            )

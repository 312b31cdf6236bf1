"""The ``tandem`` clause: hybrid search inside the user's own query DSL.

A user sends their engine query (bool, filters, anything the engine accepts)
with one ``tandem`` clause where the hybrid retrieval belongs::

    {"bool": {"must": [{"tandem": {"query": "vitamin d", "method": "rrf"}}],
              "filter": [{"term": {"lang": "en"}}]}}

:func:`parse_tandem_query` finds and validates the clause (errors name its
JSON path); :func:`with_text` fills a clause written without its text;
:func:`embed_bodies` and :func:`embed_native` put each
retriever's query in the clause's place, so every retriever (and the engine's
own fusion) runs inside the user's structure. Everything is parsed JSON turned
into new dicts: user text is a string value and never becomes JSON syntax.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tandem.plugin.engines.base import Json

from .names import MAX_WINDOW, METHODS, NORMALIZATIONS, RETRIEVERS

CLAUSE = "tandem"
ROOT = "query"
_OPTIONS = ("query", "method", "fields", "weights", "window", "normalization", "rank_constant")

Path = tuple[str | int, ...]


class DslError(ValueError):
    """A malformed ``tandem`` clause or query; ``path`` is where, as ``query.bool.must[0]``."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = render(path)
        super().__init__(f"{self.path}: {problem}")


def render(path: Path) -> str:
    text = ROOT
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


@dataclass(frozen=True)
class TandemQuery:
    """The user's query, where its ``tandem`` clause is, and what the clause asks for.

    ``overrides`` holds the clause's search options (``method``, ``fields``,
    ``weights``, ``window``, ``normalization``, ``rank_constant``) as given.
    """

    template: Json
    path: Path
    text: str
    overrides: dict[str, Any] = field(default_factory=dict)


def _find(node: Any, path: Path, found: list[Path]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == CLAUSE:
                found.append((*path, key))
            else:
                _find(value, (*path, str(key)), found)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _find(item, (*path, i), found)


def _check_options(clause: Any, path: Path) -> dict[str, Any]:
    if not isinstance(clause, Mapping):
        raise DslError(path, f'must be an object such as {{"query": "..."}}, got {clause!r}')
    for key in clause:
        if key not in _OPTIONS:
            raise DslError((*path, str(key)), f"unknown option; use {', '.join(_OPTIONS)}")
    text = clause.get("query")
    if not isinstance(text, str) or not text.strip():
        raise DslError((*path, "query"), "must be the user's query text (a non-empty string)")
    checks: dict[str, tuple[Any, str]] = {
        "method": (lambda v: v in METHODS, f"one of {', '.join(METHODS)}"),
        "normalization": (lambda v: v in NORMALIZATIONS, f"one of {', '.join(NORMALIZATIONS)}"),
        "window": (
            lambda v: type(v) is int and 1 <= v <= MAX_WINDOW,
            f"an integer in 1..{MAX_WINDOW}",
        ),
        "rank_constant": (lambda v: type(v) is int and v >= 1, "a positive integer"),
        "fields": (
            lambda v: isinstance(v, list) and v and all(isinstance(f, str) and f for f in v),
            "a non-empty list of field names",
        ),
        "weights": (
            lambda v: (
                isinstance(v, Mapping)
                and all(k in RETRIEVERS for k in v)
                and all(type(w) in (int, float) and w >= 0 for w in v.values())
            ),
            f"an object of {', '.join(RETRIEVERS)} -> weight >= 0",
        ),
    }
    for key, (ok, what) in checks.items():
        if key in clause and not ok(clause[key]):
            raise DslError((*path, key), f"must be {what}, got {clause[key]!r}")
    return {k: v for k, v in clause.items() if k != "query"}


def parse_tandem_query(dsl: Any) -> TandemQuery:
    """Validate the user's query and its single ``tandem`` clause."""
    if not isinstance(dsl, Mapping) or not dsl:
        raise DslError((), 'must be a query object, e.g. {"bool": {"must": [{"tandem": ...}]}}')
    found: list[Path] = []
    _find(dsl, (), found)
    if not found:
        raise DslError((), f"has no {CLAUSE!r} clause: put one where the hybrid search belongs")
    if len(found) > 1:
        where = ", ".join(render(p) for p in found)
        raise DslError(found[1], f"a second {CLAUSE!r} clause (found at {where}); use one")
    path = found[0]
    parent: Any = dsl
    for step in path[:-1]:
        parent = parent[step]
    if len(parent) != 1:
        others = sorted(k for k in parent if k != CLAUSE)
        raise DslError(path, f"must be a clause of its own, not next to {others}")
    clause = parent[CLAUSE]
    overrides = _check_options(clause, path)
    return TandemQuery(copy.deepcopy(dict(dsl)), path[:-1], clause["query"], overrides)


def with_text(dsl: Mapping[str, Any], text: str) -> Json:
    """``dsl`` (a new object) with ``text`` as its ``tandem`` clause's query: a query
    written once with a clause that has no ``query`` yet, filled for each search."""
    found: list[Path] = []
    _find(dsl, (), found)
    if len(found) != 1:
        return dict(dsl)  # nothing to fill: parse_tandem_query names what is wrong
    result = copy.deepcopy(dict(dsl))
    parent: Any = result
    for step in found[0][:-1]:
        parent = parent[step]
    clause = parent[CLAUSE]
    if isinstance(clause, Mapping):
        parent[CLAUSE] = {**clause, "query": text}
    return result


_OPTION_FIELDS = {"fields": tuple, "weights": dict}


def apply_overrides(options: Any, tq: TandemQuery) -> Any:
    """``options`` (a SearchOptions) with the clause's own search options in force."""
    changes = {k: _OPTION_FIELDS.get(k, lambda v: v)(v) for k, v in tq.overrides.items()}
    try:
        return dataclasses.replace(options, **changes)
    except ValueError as err:
        raise DslError((*tq.path, CLAUSE), str(err)) from None


def embed(tq: TandemQuery, query: Json) -> Json:
    """The user's query with ``query`` where the ``tandem`` clause was (a new object)."""
    if not tq.path:
        return copy.deepcopy(query)
    result = copy.deepcopy(tq.template)
    parent: Any = result
    for step in tq.path[:-1]:
        parent = parent[step]
    parent[tq.path[-1]] = copy.deepcopy(query)
    return result


def _as_query(body: Json) -> Json:
    """A body's query clause; Elasticsearch's top-level ``knn`` becomes a ``knn`` query."""
    if "query" in body:
        query: Json = body["query"]
        return query
    return {"knn": body["knn"]}


def embed_bodies(tq: TandemQuery, bodies: dict[str, Json]) -> dict[str, Json]:
    """Sidecar bodies with each retriever's query inside the user's query."""
    out = {}
    for name, body in bodies.items():
        rest = {k: v for k, v in body.items() if k not in ("query", "knn")}
        out[name] = {**rest, "query": embed(tq, _as_query(body))}
    return out


def embed_native(tq: TandemQuery, body: Json) -> Json:
    """A native fusion body (OpenSearch ``hybrid``, Elasticsearch ``rrf``/``linear``
    retriever) with each sub-query inside the user's query."""
    out = copy.deepcopy(body)
    if "query" in out:  # OpenSearch hybrid
        hybrid = out["query"]["hybrid"]
        hybrid["queries"] = [embed(tq, q) for q in hybrid["queries"]]
        return out
    fusion = next(iter(out["retriever"].values()))
    children = []
    for entry in fusion["retrievers"]:
        wrapped = "retriever" in entry  # weighted entries: {"retriever": ..., "weight": ...}
        child = entry["retriever"] if wrapped else entry
        if "knn" in child:
            child = {"standard": {"query": embed(tq, {"knn": child["knn"]})}}
        else:
            child = {
                "standard": {**child["standard"], "query": embed(tq, child["standard"]["query"])}
            }
        children.append({**entry, "retriever": child} if wrapped else child)
    fusion["retrievers"] = children
    return out

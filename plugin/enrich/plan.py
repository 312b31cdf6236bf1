"""Read the user's index and decide what enrich will do, before anything is written.

:func:`plan` refuses, saying why, an index that is missing, write-blocked, or
that maps a wanted field name with another type, and a text field that is not in
the mapping. It then picks the strategy from what the engine allows:

- Elasticsearch adds a ``dense_vector`` with an HNSW graph to an existing mapping,
  so ``auto`` is in-place.
- OpenSearch adds a ``knn_vector`` with an HNSW ``method`` only to an index created
  with ``index.knn: true`` (a final setting). Without it ``auto`` copies into a new
  index (reindex); ``rank_features`` (sparse) can always be added in place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tandem.plugin.engines.base import EngineAdapter, Json
from tandem.plugin.engines.errors import CapabilityError, EngineRequestError, IndexNotFound
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.mapping import sparse_type_for
from tandem.plugin.index.spec import (
    DEFAULT_DENSE_FIELD,
    DEFAULT_SPARSE_FIELD,
    PASSAGE_VECTOR,
    Passages,
)

from . import dialect
from .marker import DEFAULT_MARKER_FIELD, MARKER_MAPPING

Strategy = Literal["auto", "in-place", "reindex"]
STRATEGIES: tuple[Strategy, ...] = ("auto", "in-place", "reindex")
_TEXT_TYPES = ("text", "keyword", "match_only_text", "wildcard", "search_as_you_type")
_DENSE_TYPES = ("knn_vector", "dense_vector")
_SPARSE_TYPES = ("rank_features", "sparse_vector")
# Settings an index gets from the engine, never from a create request.
_ENGINE_OWNED = frozenset(
    {
        "uuid",
        "creation_date",
        "provided_name",
        "version",
        "history_uuid",
        "resize",
        "verified_before_close",
        "blocks",
        "routing",
        "creation_date_string",
        "replication",
        "knn",
        "store.snapshot",
    }
)
_TARGET_SUFFIX = re.compile(r"-tandem-(\d+)$")


class EnrichRefused(ValueError):
    """The index cannot be enriched as asked; the message says why and what to do."""


@dataclass(frozen=True)
class EnrichRequest:
    """What the user asked for. ``dense_dims`` is the dense model's output (``None``: no
    dense model); ``sparse`` whether a sparse model runs."""

    index: str
    text_fields: tuple[str, ...]
    dense_dims: int | None
    sparse: bool
    joiner: str = "\n"
    dense_field: str = DEFAULT_DENSE_FIELD
    sparse_field: str = DEFAULT_SPARSE_FIELD
    marker_field: str = DEFAULT_MARKER_FIELD
    strategy: Strategy = "auto"
    target: str | None = None
    alias: str | None = None
    similarity: str = "cosine"
    # Write the dense field as passages (nested, one vector per passage of a long text).
    passages: Passages | None = None

    def __post_init__(self) -> None:
        if not self.text_fields:
            raise EnrichRefused("name at least one text field (--text title,body)")
        if self.dense_dims is None and not self.sparse:
            raise EnrichRefused("enrich needs a dense or a sparse model (or both)")
        if self.strategy not in STRATEGIES:
            raise EnrichRefused(f"strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        names = [self.marker_field]
        if self.dense_dims is not None:
            names.append(self.dense_field)
        if self.sparse:
            names.append(self.sparse_field)
        if len(set(names)) != len(names):
            raise EnrichRefused(f"the dense, sparse and marker fields need distinct names: {names}")
        for text in self.text_fields:
            if text in names:
                raise EnrichRefused(f"{text!r} is both a text field and a field enrich writes")


@dataclass(frozen=True)
class EnrichPlan:
    """What enrich will do: read ``source``, write vectors into ``target`` (the same
    index in place), add ``properties`` to its mapping, and for a reindex point
    ``alias`` at the target."""

    request: EnrichRequest
    strategy: Literal["in-place", "reindex"]
    why: str
    source: str
    target: str
    alias: str | None
    properties: Json
    shards: int
    create_body: Json | None = None
    existing: tuple[str, ...] = field(default_factory=tuple)

    @property
    def dense_field(self) -> str | None:
        return self.request.dense_field if self.request.dense_dims is not None else None

    @property
    def sparse_field(self) -> str | None:
        return self.request.sparse_field if self.request.sparse else None

    def summary(self) -> Json:
        """The plan as JSON: what ``--dry-run`` prints and ``EnrichIndex`` answers first."""
        return {
            "strategy": self.strategy,
            "why": self.why,
            "source": self.source,
            "target": self.target,
            "alias": self.alias,
            "add": self.properties,
        }

    def describe(self) -> str:
        if self.strategy == "in-place":
            return f"in-place into {self.source}: {self.why}"
        return (
            f"reindex {self.source} -> {self.target}, then alias {self.alias} -> {self.target}: "
            f"{self.why}"
        )


def _properties_at(mappings: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    """The mapping of a dotted field path (``author.name``), or ``None``."""
    props: Mapping[str, Any] = mappings.get("properties", {})
    parts = path.split(".")
    for i, part in enumerate(parts):
        node = props.get(part)
        if not isinstance(node, Mapping):
            return None
        if i == len(parts) - 1:
            return node
        props = node.get("properties", {})
    return None


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _check_writable(index: str, settings: Mapping[str, Any]) -> None:
    blocks = settings.get("blocks", {})
    for block in ("write", "read_only", "read_only_allow_delete"):
        if _truthy(blocks.get(block)):
            raise EnrichRefused(
                f"index {index!r} is read-only (index.blocks.{block} is true), so enrich "
                f"cannot add vectors to it; lift the block (PUT {index}/_settings "
                f'{{"index.blocks.{block}": null}}) or enrich another index. If a reindex '
                "killed during its switch left it, the same command with --resume lifts it"
            )


def _check_text_fields(index: str, mappings: Mapping[str, Any], fields: Sequence[str]) -> None:
    for name in fields:
        found = _properties_at(mappings, name)
        if found is None:
            known = ", ".join(sorted(mappings.get("properties", {}))) or "none"
            raise EnrichRefused(
                f"text field {name!r} is not in the mapping of {index!r} (top-level fields: "
                f"{known}); use a dotted path for a field inside an object"
            )
        kind = found.get("type", "object")
        if kind not in _TEXT_TYPES:
            raise EnrichRefused(
                f"text field {name!r} of {index!r} is mapped as {kind!r}, not text; name "
                f"fields of type {', '.join(_TEXT_TYPES)}"
            )


def _dense_mapping(adapter: EngineAdapter, dims: int, similarity: str, knn: bool) -> Json:
    if adapter.kind is EngineKind.ELASTICSEARCH:
        es = {"cosine": "cosine", "dot_product": "dot_product", "l2": "l2_norm"}[similarity]
        return {
            "type": "dense_vector",
            "dims": dims,
            "index": True,
            "similarity": es,
            "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
        }
    space = {"cosine": "cosinesimil", "dot_product": "innerproduct", "l2": "l2"}[similarity]
    field: Json = {"type": "knn_vector", "dimension": dims}
    if knn:
        field["method"] = {
            "name": "hnsw",
            "engine": "lucene",
            "space_type": space,
            "parameters": {"m": 16, "ef_construction": 100},
        }
    return field


def _existing_dense(
    index: str, mappings: Mapping[str, Any], request: EnrichRequest
) -> Mapping[str, Any] | None:
    """The vector mapping already at the dense field (inside it, for passages), checked
    against the layout the request asks for; ``None`` when the field is new."""
    name = request.dense_field
    node = _properties_at(mappings, name)
    if node is None:
        return None
    if node.get("type") == "nested":
        inner = node.get("properties", {}).get(PASSAGE_VECTOR)
        if isinstance(inner, Mapping) and inner.get("type") in _DENSE_TYPES:
            if request.passages is None:
                raise EnrichRefused(
                    f"field {name!r} of {index!r} holds passages (a nested field of vectors); "
                    "enrich it with --passages, or write whole-document vectors to another "
                    "field (--dense-field NAME)"
                )
            return inner
    found = _check_existing(index, mappings, name, _DENSE_TYPES, "dense vectors")
    if found is not None and request.passages is not None:
        raise EnrichRefused(
            f"field {name!r} of {index!r} holds one vector per document, and a mapped field "
            "cannot become nested; write passages to another field (--dense-field NAME), or "
            "leave out --passages"
        )
    return found


def _check_existing(
    index: str, mappings: Mapping[str, Any], name: str, allowed: tuple[str, ...], what: str
) -> Mapping[str, Any] | None:
    found = _properties_at(mappings, name)
    if found is None:
        return None
    kind = found.get("type", "object")
    if kind not in allowed:
        raise EnrichRefused(
            f"index {index!r} already has a field {name!r} of type {kind!r}; enrich would write "
            f"{what} there. Choose another name (--{what.split()[0]}-field NAME)"
        )
    return found


def _wanted_properties(
    adapter: EngineAdapter, request: EnrichRequest, mappings: Mapping[str, Any], knn: bool
) -> tuple[Json, list[str]]:
    """The fields to add (and those already there, of the right type)."""
    index = request.index
    add: Json = {}
    existing: list[str] = []
    if request.dense_dims is not None:
        found = _existing_dense(index, mappings, request)
        if found is None:
            vector = _dense_mapping(adapter, request.dense_dims, request.similarity, knn)
            add[request.dense_field] = (
                vector
                if request.passages is None
                else {"type": "nested", "properties": {PASSAGE_VECTOR: vector}}
            )
        else:
            dims = found.get("dimension", found.get("dims"))
            if dims is not None and int(dims) != request.dense_dims:
                raise EnrichRefused(
                    f"field {request.dense_field!r} of {index!r} holds {dims}-dimension vectors "
                    f"but the dense model makes {request.dense_dims}; choose another name "
                    "(--dense-field NAME) or a model with that many dimensions"
                )
            existing.append(request.dense_field)
    if request.sparse:
        found = _check_existing(
            index, mappings, request.sparse_field, _SPARSE_TYPES, "sparse weights"
        )
        if found is None:
            try:
                kind = sparse_type_for(adapter.capabilities, request.sparse_field)
            except CapabilityError as err:
                raise EnrichRefused(str(err)) from err
            add[request.sparse_field] = {"type": kind}
        else:
            existing.append(request.sparse_field)
    marker = _check_existing(index, mappings, request.marker_field, ("object",), "marker object")
    if marker is None:
        add[request.marker_field] = MARKER_MAPPING
    else:
        existing.append(request.marker_field)
    return add, existing


def _in_place_why_not(
    adapter: EngineAdapter, request: EnrichRequest, mappings: Mapping[str, Any], knn: bool
) -> str | None:
    """Why in-place cannot give this index an HNSW dense field (``None``: it can)."""
    if adapter.kind is EngineKind.ELASTICSEARCH or request.dense_dims is None:
        return None
    found = _properties_at(mappings, request.dense_field)
    if found is not None and "method" in found and knn:
        return None
    if not knn:
        return (
            f"index {request.index!r} was created without index.knn: true (a final setting), "
            "so OpenSearch refuses an HNSW knn_vector in its mapping"
        )
    return None


def _target_name(adapter: EngineAdapter, source: str) -> str:
    match = _TARGET_SUFFIX.search(source)
    base, number = (source[: match.start()], int(match.group(1)) + 1) if match else (source, 1)
    while True:
        name = f"{base}-tandem-{number}"
        if not adapter.index_exists(name):
            return name
        number += 1


def _copy_settings(settings: Mapping[str, Any]) -> Json:
    return {k: v for k, v in settings.items() if k not in _ENGINE_OWNED}


def _alias_for(adapter: EngineAdapter, request: EnrichRequest, source: str) -> str:
    """The alias a reindex moves: the name the user gave when it is one, or ``--alias``."""
    if request.index != source:
        return request.index
    if request.alias:
        pointed = dialect.alias_exists(adapter, request.alias)
        if pointed and pointed != [source]:
            raise EnrichRefused(
                f"alias {request.alias!r} points at {', '.join(pointed)}, not {source!r}; "
                "name an alias of this index, or a new one"
            )
        if adapter.index_exists(request.alias) and not pointed:
            raise EnrichRefused(f"{request.alias!r} is an index, not an alias; name a new alias")
        return request.alias
    raise EnrichRefused(
        f"a reindex copies {source!r} into a new index and then switches an alias, so that "
        "readers and writers move at once; but your application reaches it by its index name. "
        "Pass --alias NAME (Tandem points NAME at the copy; point your application at NAME), "
        "or enrich through an existing alias (--index ALIAS)"
    )


def plan(adapter: EngineAdapter, request: EnrichRequest, resuming: bool = False) -> EnrichPlan:
    """Check the index and choose the strategy; raises :class:`EnrichRefused`.

    ``resuming`` accepts the target of an interrupted reindex (it exists already)."""
    try:
        source, settings = dialect.resolve(adapter, request.index)
    except IndexNotFound as err:
        raise EnrichRefused(
            f"index {request.index!r} does not exist on {adapter.url} (tandem indices list "
            "shows what is there)"
        ) from err
    except EngineRequestError as err:
        raise EnrichRefused(str(err)) from err
    _check_writable(request.index, settings)
    mappings = dialect.mapping_of(adapter, source)
    _check_text_fields(request.index, mappings, request.text_fields)
    knn = adapter.kind is EngineKind.ELASTICSEARCH or _truthy(settings.get("knn"))
    shards = int(settings.get("number_of_shards", 1))
    why_not = _in_place_why_not(adapter, request, mappings, knn)
    strategy = request.strategy
    if strategy == "in-place" and why_not:
        raise EnrichRefused(
            f"in-place is not possible: {why_not}. Use --strategy reindex (or auto), or "
            "--dense none for sparse vectors only"
        )
    if strategy == "reindex" or (strategy == "auto" and why_not):
        why = why_not or "asked for"
        alias = _alias_for(adapter, request, source)
        target = request.target or _target_name(adapter, source)
        if adapter.index_exists(target) and not resuming:
            raise EnrichRefused(
                f"target index {target!r} exists already; name a new one (--target)"
            )
        _wanted_properties(adapter, request, mappings, True)  # refuses a field of another type
        add, _ = _wanted_properties(adapter, request, {"properties": {}}, True)
        new_settings = _copy_settings(settings)
        if adapter.kind is EngineKind.OPENSEARCH and (request.dense_dims is not None or knn):
            new_settings["knn"] = True
        body = {
            "settings": {"index": new_settings},
            "mappings": {**mappings, "properties": {**mappings.get("properties", {}), **add}},
        }
        return EnrichPlan(request, "reindex", why, source, target, alias, add, shards, body)
    add, existing = _wanted_properties(adapter, request, mappings, knn)
    why = (
        "Elasticsearch adds an HNSW dense_vector to an existing mapping"
        if adapter.kind is EngineKind.ELASTICSEARCH
        else "the index has index.knn: true"
        if request.dense_dims is not None
        else "sparse fields can be added to any index"
    )
    return EnrichPlan(
        request, "in-place", why, source, source, None, add, shards, None, tuple(existing)
    )

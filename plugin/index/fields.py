"""Where an existing index keeps its vectors, read from its mapping.

An index Tandem created says so in its mapping's ``_meta`` (:func:`tandem_meta`),
with the names of its vector fields. Any other index is read for them: the one
dense field (``knn_vector`` or ``dense_vector``) and the one sparse field
(``rank_features``, or Elasticsearch's ``sparse_vector``) it maps. Pure: the
caller fetches the mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tandem.plugin.engines.errors import CapabilityError
from tandem.plugin.engines.kinds import EngineKind

from .spec import PASSAGE_VECTOR, IndexSpec, Passages

META_KEY = "tandem"
_DENSE_TYPES = ("knn_vector", "dense_vector")
# OpenSearch's sparse_vector is keyed by token ids, not term names: Tandem neither maps
# nor searches it (index.mapping refuses it), so such a field is not taken as sparse.
_SPARSE_TYPES = {
    EngineKind.OPENSEARCH: ("rank_features",),
    EngineKind.ELASTICSEARCH: ("sparse_vector", "rank_features"),
}


def tandem_meta(spec: IndexSpec) -> dict[str, Any]:
    """The ``_meta`` entry that marks an index as Tandem's and names its fields."""
    return {
        META_KEY: {
            "created_by": "tandem",
            "text": [f.name for f in spec.text_fields],
            "dense": spec.dense.name if spec.dense is not None else None,
            "sparse": spec.sparse.name if spec.sparse is not None else None,
            "passages": spec.passages.as_dict() if spec.passages is not None else None,
        }
    }


def created_by_tandem(mappings: Mapping[str, Any]) -> bool:
    """Whether the index was created by Tandem (its mapping carries :func:`tandem_meta`)."""
    meta = mappings.get("_meta")
    return isinstance(meta, Mapping) and isinstance(meta.get(META_KEY), Mapping)


@dataclass(frozen=True)
class VectorFields:
    """An index's vector fields (``None`` where it has none) and the dense field's dims;
    ``passages`` when the dense field is a ``nested`` field of passage vectors (with the
    window and stride the index was created with, if Tandem created it)."""

    dense: str | None
    sparse: str | None
    dims: int | None = None
    passages: Passages | None = None


def _dims(field: Mapping[str, Any]) -> int | None:
    value = field.get("dimension", field.get("dims"))
    return int(value) if isinstance(value, int) else None


def _of_type(properties: Mapping[str, Any], types: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name, field in properties.items()
        if isinstance(field, Mapping) and field.get("type") in types
    )


def passage_fields(properties: Mapping[str, Any]) -> list[str]:
    """The ``nested`` fields whose objects hold a dense vector under :data:`PASSAGE_VECTOR`
    (Tandem's passage layout)."""
    return sorted(
        name
        for name, field in properties.items()
        if isinstance(field, Mapping)
        and field.get("type") == "nested"
        and _of_type(field.get("properties", {}), _DENSE_TYPES) == [PASSAGE_VECTOR]
    )


def _one(index: str, kind: str, names: list[str]) -> str | None:
    if len(names) > 1:
        raise CapabilityError(
            f"index {index!r} has {len(names)} {kind} fields ({', '.join(names)}); Tandem "
            "fills one: create the index with CreateIndex (or tandem index) to name it"
        )
    return names[0] if names else None


def vector_fields(index: str, mappings: Mapping[str, Any], engine: EngineKind) -> VectorFields:
    """The fields ingest writes vectors into; raises when there is none, or no single one."""
    properties = mappings.get("properties", {})
    if not isinstance(properties, Mapping):
        properties = {}
    meta = mappings.get("_meta", {}).get(META_KEY) if created_by_tandem(mappings) else None
    passages = None
    if meta is not None:
        dense, sparse = meta.get("dense"), meta.get("sparse")
        if isinstance(meta.get("passages"), Mapping):
            passages = Passages(**meta["passages"])
    else:
        dense = _one(
            index,
            "dense vector",
            _of_type(properties, _DENSE_TYPES) + passage_fields(properties),
        )
        sparse = _one(index, "sparse", _of_type(properties, _SPARSE_TYPES[engine]))
    if dense is None and sparse is None:
        raise CapabilityError(
            f"index {index!r} has no dense or sparse field Tandem can fill: create it with "
            "CreateIndex (or tandem index), or add a knn_vector / dense_vector or "
            "rank_features field to its mapping"
        )
    field = properties.get(dense, {}) if dense else {}
    if not isinstance(field, Mapping):
        field = {}
    if field.get("type") == "nested":
        field = field.get("properties", {}).get(PASSAGE_VECTOR, {})
        passages = passages or Passages()
    return VectorFields(dense, sparse, _dims(field), passages)

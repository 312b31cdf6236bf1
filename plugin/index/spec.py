"""What an index holds, engine-neutral: frozen dataclasses that validate themselves.

An :class:`IndexSpec` names the text, dense, sparse and metadata fields of one
Tandem index. It is checked when built, so a bad name or an out-of-range HNSW
parameter fails here with a message saying what is allowed, long before any
request reaches an engine. :mod:`tandem.plugin.index.mapping` turns a spec into the
create-index body of a given engine; what depends on the engine (field types
it lacks, the model's dimensions) is checked there.

:meth:`IndexSpec.from_dict` reads the JSON form::

    {"name": "docs", "shards": 1, "replicas": 0,
     "bm25": {"k1": 0.9, "b": 0.4},
     "passages": {"window": 254, "stride": 127},
     "analysis": {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                          "filter": ["lowercase", "asciifolding"]}}},
     "fields": [
        {"name": "title", "type": "text", "analyzer": "folded"},
        {"name": "vector", "type": "dense", "dims": 384, "similarity": "cosine"},
        {"name": "terms", "type": "sparse"},
        {"name": "year", "type": "integer"}]}

and names the JSON path of whatever it refuses.

Text fields default to the ``english`` analyzer (stemming and stop words): a plain
stemmed BM25 beats the ``standard`` analyzer on every shared dataset. ``analysis``
holds the index's own analyzers, tokenizers and filters in the engines' syntax
(both engines share it), for a field to name; ``bm25`` sets the index's default
similarity (Lucene's BM25 with these ``k1`` and ``b``). ``passages`` makes the
dense field hold one vector per passage of a long text (``{}`` takes the model's
window), searched with nested kNN: see :class:`Passages`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, get_args

Similarity = Literal["cosine", "dot_product", "l2"]
KnnEngine = Literal["lucene", "faiss"]
Quantization = Literal["int8", "fp16"]
EsIndexType = Literal["hnsw", "int8_hnsw", "bbq_hnsw"]
SparseType = Literal["rank_features", "sparse_vector"]
MetadataType = Literal["keyword", "integer", "long", "float", "boolean", "date"]

MAX_DIMS = 4096  # Elasticsearch's dense_vector limit, the lower of the two engines'
MAX_M = 512  # Lucene's HNSW limits: "maxConn must be ... less than or equal to 512"
MAX_EF_CONSTRUCTION = 3200  # "beamWidth must be ... less than or equal to 3200"
BBQ_MIN_DIMS = 64  # "bbq_hnsw does not support dimensions fewer than 64"

# Tandem's own layout, used when it creates an index and no spec names the fields.
DEFAULT_TEXT_FIELDS = ("title", "text")
DEFAULT_DENSE_FIELD = "embedding"
DEFAULT_SPARSE_FIELD = "sparse"

DEFAULT_ANALYZER = "english"
# What an index's ``analysis`` settings may define (the engines' analysis sections).
ANALYSIS_SECTIONS = ("analyzer", "tokenizer", "filter", "char_filter", "normalizer")
MAX_K1 = 10.0  # Lucene accepts any finite k1 >= 0; past a few, term frequency stops saturating
# A nested passage object keeps its vector under this name: "<dense field>.vector".
PASSAGE_VECTOR = "vector"
MAX_PASSAGE_WINDOW = 8192  # the longest window a model registry entry allows

_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,254}")
_ANALYZER = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,254}")
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,254}")


class SpecError(ValueError):
    """An index spec that cannot be built; ``str()`` starts with where the problem is.

    ``where`` locates the object (a field name, or a JSON path such as
    ``fields[2]``) and ``key`` the attribute in it, so :meth:`IndexSpec.from_dict`
    can re-locate a field's error under its JSON path.
    """

    def __init__(self, problem: str, key: str | None = None, where: str = "") -> None:
        self.problem = problem
        self.key = key
        self.where = where
        location = ".".join(part for part in (where, key) if part)
        super().__init__(f"{location}: {problem}" if location else problem)

    def at(self, where: str) -> SpecError:
        """The same problem, located under ``where`` instead."""
        return SpecError(self.problem, self.key, where)


def _one_of(allowed: tuple[str, ...]) -> str:
    return ", ".join(repr(a) for a in allowed)


def _check_choice(value: object, choices: Any, key: str, where: str, optional: bool) -> None:
    allowed: tuple[str, ...] = get_args(choices)
    if value is None and optional:
        return
    if value not in allowed:
        extra = " or None" if optional else ""
        raise SpecError(
            f"{value!r} is not supported; use one of {_one_of(allowed)}{extra}", key, where
        )


def _check_int(value: object, key: str, where: str, low: int, high: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be an integer, got {value!r}", key, where)
    if not low <= value <= high:
        raise SpecError(f"must be between {low} and {high}{why}, got {value}", key, where)


def _check_field_name(name: object) -> None:
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise SpecError(
            f"field name {name!r} is not allowed: use letters, digits, '_' and '-', starting "
            "with a letter, at most 255 characters ('.' would make a nested object path, "
            "and a leading '_' is reserved for the engines' metadata fields)",
            "name",
        )


@dataclass(frozen=True)
class TextField:
    """A full-text field searched with BM25, analysed by ``analyzer``: ``None`` is
    :data:`DEFAULT_ANALYZER` where the engine has language analyzers (its
    ``analysis-common`` module), else ``standard``."""

    name: str
    analyzer: str | None = None

    def __post_init__(self) -> None:
        _check_field_name(self.name)
        if self.analyzer is None:
            return
        if not isinstance(self.analyzer, str) or not _ANALYZER.fullmatch(self.analyzer):
            raise SpecError(
                f"{self.analyzer!r} is not an analyzer name (letters, digits, '_', '-')",
                "analyzer",
                self.name,
            )


@dataclass(frozen=True)
class DenseField:
    """A dense vector field with an HNSW graph.

    ``engine`` and ``quantization`` are OpenSearch options: ``quantization="int8"``
    is Lucene scalar quantisation (7 bits), ``"fp16"`` needs ``engine="faiss"``.
    ``index_type`` is Elasticsearch's (``int8_hnsw``, ``bbq_hnsw``); ``None``
    there means plain float ``hnsw``. A spec names one engine's options, not both.
    """

    name: str
    dims: int
    similarity: Similarity = "cosine"
    m: int = 16
    ef_construction: int = 100
    engine: KnnEngine | None = None
    quantization: Quantization | None = None
    index_type: EsIndexType | None = None

    def __post_init__(self) -> None:
        _check_field_name(self.name)
        where = self.name
        _check_int(self.dims, "dims", where, 1, MAX_DIMS)
        _check_choice(self.similarity, Similarity, "similarity", where, optional=False)
        _check_int(self.m, "m", where, 2, MAX_M)
        _check_int(
            self.ef_construction,
            "ef_construction",
            where,
            self.m,
            MAX_EF_CONSTRUCTION,
            " (at least m: each node keeps m links out of ef_construction candidates)",
        )
        _check_choice(self.engine, KnnEngine, "engine", where, optional=True)
        _check_choice(self.quantization, Quantization, "quantization", where, optional=True)
        _check_choice(self.index_type, EsIndexType, "index_type", where, optional=True)
        if self.index_type is not None and (self.engine or self.quantization):
            raise SpecError(
                "index_type is Elasticsearch's option and engine/quantization are "
                "OpenSearch's; a spec uses one engine's options",
                "index_type",
                where,
            )
        if self.quantization == "fp16" and self.engine != "faiss":
            raise SpecError(
                "'fp16' is faiss scalar quantisation: set engine='faiss', or use 'int8' "
                "(Lucene's 7-bit quantisation)",
                "quantization",
                where,
            )
        if self.quantization == "int8" and self.engine == "faiss":
            raise SpecError(
                "faiss has no 'int8' scalar quantisation; use 'fp16' with faiss or 'int8' "
                "with engine='lucene'",
                "quantization",
                where,
            )
        if self.index_type == "bbq_hnsw" and self.dims < BBQ_MIN_DIMS:
            raise SpecError(
                f"bbq_hnsw needs at least {BBQ_MIN_DIMS} dims, got {self.dims}; use "
                "'int8_hnsw' or 'hnsw'",
                "index_type",
                where,
            )


@dataclass(frozen=True)
class SparseField:
    """Learned-sparse term weights. ``type=None`` takes the best type the engine has."""

    name: str
    type: SparseType | None = None

    def __post_init__(self) -> None:
        _check_field_name(self.name)
        _check_choice(self.type, SparseType, "type", self.name, optional=True)


@dataclass(frozen=True)
class MetadataField:
    """A filterable, sortable field stored beside the vectors (category, date, ...)."""

    name: str
    type: MetadataType

    def __post_init__(self) -> None:
        _check_field_name(self.name)
        _check_choice(self.type, MetadataType, "type", self.name, optional=False)


AnyField = TextField | DenseField | SparseField | MetadataField


@dataclass(frozen=True)
class Passages:
    """The dense field holds one vector per passage (a ``nested`` field whose objects
    carry :data:`PASSAGE_VECTOR`) and documents score as their best passage.

    ``window`` and ``stride`` are in tokens (see :class:`tandem.encoders.passages.PassageWindow`);
    ``None`` takes the model's: its whole window, and half-overlapping passages.
    ``sparse`` splits the sparse model's texts too and max-pools their weights; off by
    default, because on SciFact it lowered SPLADE's nDCG@10 (docs/passages.md)."""

    window: int | None = None
    stride: int | None = None
    sparse: bool = False

    def __post_init__(self) -> None:
        for key in ("window", "stride"):
            value = getattr(self, key)
            if value is not None:
                _check_int(value, key, "passages", 1, MAX_PASSAGE_WINDOW)
        if not isinstance(self.sparse, bool):
            raise SpecError(f"must be true or false, got {self.sparse!r}", "sparse", "passages")
        if self.window is not None and self.stride is not None and self.stride > self.window:
            raise SpecError(
                f"stride {self.stride} is longer than the window {self.window}: the tokens "
                "between passages would be lost; use at most the window",
                "stride",
                "passages",
            )

    def as_dict(self) -> dict[str, int | bool]:
        found: dict[str, int | bool] = {
            k: v for k, v in (("window", self.window), ("stride", self.stride)) if v
        }
        if self.sparse:
            found["sparse"] = True
        return found


@dataclass(frozen=True)
class Bm25:
    """The index's BM25 parameters: ``k1`` (term-frequency saturation) and ``b`` (length
    normalisation, 0 to 1). The engines' own defaults are 1.2 and 0.75."""

    k1: float = 1.2
    b: float = 0.75

    def __post_init__(self) -> None:
        for key, value, high in (("k1", self.k1, MAX_K1), ("b", self.b, 1.0)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"must be a number, got {value!r}", key, "bm25")
            if not (math.isfinite(value) and 0 <= value <= high):
                raise SpecError(f"must be between 0 and {high:g}, got {value}", key, "bm25")


def check_analysis(analysis: object) -> None:
    """``analysis`` is ``{section: {name: definition}}`` with known sections."""
    if not isinstance(analysis, Mapping):
        raise SpecError(f"must be a JSON object, got {analysis!r}", "analysis")
    for section, entries in analysis.items():
        if section not in ANALYSIS_SECTIONS:
            raise SpecError(
                f"unknown section {section!r}; use {_one_of(ANALYSIS_SECTIONS)}",
                str(section),
                "analysis",
            )
        if not isinstance(entries, Mapping) or not all(
            isinstance(k, str) and _ANALYZER.fullmatch(k) and isinstance(v, Mapping)
            for k, v in entries.items()
        ):
            raise SpecError(
                "must map names (letters, digits, '_', '-') to definition objects",
                str(section),
                "analysis",
            )


@dataclass(frozen=True)
class IndexSpec:
    """One Tandem index: its name, fields and shard layout."""

    name: str
    text_fields: tuple[TextField, ...]
    dense: DenseField | None = None
    sparse: SparseField | None = None
    metadata: tuple[MetadataField, ...] = ()
    shards: int = 1
    replicas: int = 0
    bm25: Bm25 | None = None
    passages: Passages | None = None
    # The engines' analysis settings (left out of the hash: a dict is not hashable).
    analysis: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        # Lists are accepted and frozen to tuples, so a spec stays hashable.
        object.__setattr__(self, "text_fields", tuple(self.text_fields))
        object.__setattr__(self, "metadata", tuple(self.metadata))
        if not isinstance(self.name, str) or not _INDEX_NAME.fullmatch(self.name):
            raise SpecError(
                f"index name {self.name!r} is not allowed: use lowercase letters, digits, "
                "'.', '_' and '-', starting with a letter or digit, at most 255 characters",
                "name",
            )
        _check_int(self.shards, "shards", "", 1, 1024)
        _check_int(self.replicas, "replicas", "", 0, 64)
        if self.bm25 is not None and not isinstance(self.bm25, Bm25):
            raise SpecError(f"expected a Bm25, got {self.bm25!r}", "bm25")
        if self.analysis is not None:
            check_analysis(self.analysis)
        if self.passages is not None:
            if not isinstance(self.passages, Passages):
                raise SpecError(f"expected a Passages, got {self.passages!r}", "passages")
            if self.dense is None:
                raise SpecError("passages need a dense field to hold their vectors", "passages")
        self._check_kinds()
        if not (self.text_fields or self.dense or self.sparse):
            raise SpecError("an index needs at least one text, dense or sparse field", "fields")
        seen: dict[str, str] = {}
        for f in self.fields:
            kind = _KIND_NAMES[type(f)]
            if f.name in seen:
                raise SpecError(
                    f"field name {f.name!r} is used twice ({seen[f.name]} and {kind})", "fields"
                )
            seen[f.name] = kind

    def _check_kinds(self) -> None:
        expected: list[tuple[str, object, type]] = [
            *(("text_fields", f, TextField) for f in self.text_fields),
            *(("metadata", f, MetadataField) for f in self.metadata),
        ]
        if self.dense is not None:
            expected.append(("dense", self.dense, DenseField))
        if self.sparse is not None:
            expected.append(("sparse", self.sparse, SparseField))
        for key, value, cls in expected:
            if not isinstance(value, cls):
                raise SpecError(f"expected a {cls.__name__}, got {value!r}", key)

    @property
    def fields(self) -> tuple[AnyField, ...]:
        """Every field in body order: text, dense, sparse, metadata."""
        extra = tuple(f for f in (self.dense, self.sparse) if f is not None)
        return (*self.text_fields, *extra, *self.metadata)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndexSpec:
        """Read the JSON form (see the module docstring); unknown keys and types are errors."""
        _only_keys(data, _SPEC_KEYS, "", "the index spec")
        raw_fields = data.get("fields", [])
        if not isinstance(raw_fields, list):
            raise SpecError(f"must be a list of fields, got {raw_fields!r}", "fields")
        text: list[TextField] = []
        metadata: list[MetadataField] = []
        dense: list[tuple[str, DenseField]] = []
        sparse: list[tuple[str, SparseField]] = []
        first_use: dict[str, str] = {}
        for i, raw in enumerate(raw_fields):
            where = f"fields[{i}]"
            built = _field_from_dict(raw, where)
            if built.name in first_use:
                raise SpecError(
                    f"field name {built.name!r} is already used by {first_use[built.name]}",
                    "name",
                    where,
                )
            first_use[built.name] = where
            if isinstance(built, TextField):
                text.append(built)
            elif isinstance(built, MetadataField):
                metadata.append(built)
            elif isinstance(built, DenseField):
                dense.append((where, built))
            else:
                sparse.append((where, built))
        for kind, found in (("dense", dense), ("sparse", sparse)):
            if len(found) > 1:
                raise SpecError(
                    f"a second {kind} field; an index holds at most one", "type", found[1][0]
                )
        return cls(
            name=data.get("name", ""),
            text_fields=tuple(text),
            dense=dense[0][1] if dense else None,
            sparse=sparse[0][1] if sparse else None,
            metadata=tuple(metadata),
            bm25=_bm25_from_dict(data["bm25"]) if "bm25" in data else None,
            passages=_passages_from_dict(data["passages"]) if "passages" in data else None,
            **{k: data[k] for k in ("shards", "replicas", "analysis") if k in data},
        )


_KIND_NAMES: dict[type, str] = {
    TextField: "text",
    DenseField: "dense",
    SparseField: "sparse",
    MetadataField: "metadata",
}


def default_spec(
    name: str,
    text_fields: tuple[str, ...] = DEFAULT_TEXT_FIELDS,
    dims: int | None = None,
    sparse: bool = True,
    analyzer: str | None = None,
    bm25: Bm25 | None = None,
    passages: Passages | None = None,
) -> IndexSpec:
    """The index Tandem creates when none exists: text fields (with ``analyzer``, else
    the default), a dense field (when ``dims`` is known; of passages with ``passages``)
    and a sparse field, under the default names; ``bm25`` sets its BM25 parameters."""
    return IndexSpec(
        name=name,
        text_fields=tuple(TextField(f, analyzer) for f in text_fields),
        dense=DenseField(DEFAULT_DENSE_FIELD, dims) if dims else None,
        sparse=SparseField(DEFAULT_SPARSE_FIELD) if sparse else None,
        bm25=bm25,
        passages=passages if dims else None,
    )


_SPEC_KEYS = ("name", "fields", "shards", "replicas", "bm25", "analysis", "passages")


def _bm25_from_dict(raw: object) -> Bm25:
    _only_keys(raw, ("k1", "b"), "bm25", "bm25")
    assert isinstance(raw, Mapping)  # checked by _only_keys
    return Bm25(**raw)


def _passages_from_dict(raw: object) -> Passages:
    _only_keys(raw, ("window", "stride", "sparse"), "passages", "passages")
    assert isinstance(raw, Mapping)  # checked by _only_keys
    return Passages(**raw)


def _only_keys(data: object, allowed: tuple[str, ...], where: str, what: str) -> None:
    if not isinstance(data, Mapping):
        raise SpecError(f"{what} must be a JSON object, got {data!r}", None, where)
    for key in data:
        if key not in allowed:
            raise SpecError(
                f"unknown key {key!r} for {what}; allowed: {', '.join(allowed)}", str(key), where
            )


# JSON field type -> (dataclass, the values the type itself fixes).
_FIELD_TYPES: dict[str, tuple[type[AnyField], dict[str, Any]]] = {
    "text": (TextField, {}),
    "dense": (DenseField, {}),
    "sparse": (SparseField, {}),
    **{t: (SparseField, {"type": t}) for t in get_args(SparseType)},
    **{t: (MetadataField, {"type": t}) for t in get_args(MetadataType)},
}


def _field_from_dict(raw: object, where: str) -> AnyField:
    if not isinstance(raw, Mapping):
        raise SpecError(f"a field must be a JSON object, got {raw!r}", None, where)
    field_type = raw.get("type")
    if field_type not in _FIELD_TYPES:
        problem = (
            "every field needs a type"
            if field_type is None
            else f"unknown field type {field_type!r}"
        )
        raise SpecError(f"{problem}; use one of {', '.join(_FIELD_TYPES)}", "type", where)
    cls, fixed = _FIELD_TYPES[field_type]
    # The JSON "type" names the field type; SparseField's own ``type`` comes from it.
    keys = [f.name for f in fields(cls) if f.name != "type"]
    _only_keys(raw, ("type", *keys), where, f"a {field_type} field")
    values: dict[str, Any] = {k: v for k, v in raw.items() if k != "type"}
    for f in fields(cls):
        if f.name in keys and f.name not in values and f.default is MISSING:
            raise SpecError(f"a {field_type} field needs {f.name!r}", f.name, where)
    try:
        return cls(**values, **fixed)
    except SpecError as err:
        raise err.at(where) from None

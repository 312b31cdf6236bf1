"""What every framework retriever is configured with: where the sidecar is, what to search.

:class:`Sidecar` says how to reach a running ``tandem serve``; :class:`Retrieval` says
which index, with which :class:`~tandem.client.SearchOptions` (or the user's own query
with a ``tandem`` clause), and which stored fields make a document's text and metadata.
Both check themselves when built and turn into plain dicts and back, for frameworks
that save pipelines (Haystack); the token never goes into a dict.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from tandem.client import AsyncTandemClient, SearchOptions, TandemClient
from tandem.plugin.search.documents import field_names
from tandem.plugin.search.extension import parse_tandem_query, with_text

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

# Keys Tandem writes into every document's metadata; stored fields may not take them.
RESERVED = ("id", "index", "score", "mode", "retrievers")


@dataclass(frozen=True)
class Sidecar:
    """A running sidecar (``tandem serve``) and how to connect to it: ``token`` is the
    bearer token, ``tls``/``tls_ca``/``tls_cert``/``tls_key`` as for
    :class:`~tandem.client.TandemClient`, ``timeout`` the seconds one search may take."""

    address: str = "localhost:50051"
    token: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address.strip():
            raise ValueError("address is empty: give the sidecar's HOST:PORT")

    def _arguments(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def client(self) -> TandemClient:
        return TandemClient(**self._arguments())

    def async_client(self) -> AsyncTandemClient:
        """An asyncio client; make it inside the event loop that uses it."""
        return AsyncTandemClient(**self._arguments())

    def to_dict(self) -> dict[str, Any]:
        """The settings without the token (serialize that as a secret of its own)."""
        return {k: v for k, v in self._arguments().items() if k != "token"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sidecar:
        return _build(cls, data, "sidecar")


@dataclass(frozen=True)
class Retrieval:
    """What a retriever asks the sidecar for each query.

    ``options`` are the search's :class:`~tandem.client.SearchOptions` (method, mode,
    size, weights, filters, BM25 fields, ...); by default they turn ``explain`` on, so
    each document's metadata carries every retriever's rank and score (native fusion
    has none to give). ``dsl`` is your own engine query with one ``tandem`` clause,
    written without its ``query``: each query's text is put there. ``content_fields``
    are the stored fields joined (one per line) into a document's text, by default the
    BM25 fields; ``metadata_fields`` are more stored fields copied into its metadata.
    """

    index: str
    options: SearchOptions = SearchOptions(explain=True)
    dsl: Mapping[str, Any] | None = None
    dense_field: str | None = None
    sparse_field: str | None = None
    content_fields: tuple[str, ...] = ()
    metadata_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.index, str) or not self.index.strip():
            raise ValueError("index is empty: name the index to search")
        if not isinstance(self.options, SearchOptions):
            raise ValueError(f"options must be a SearchOptions, got {type(self.options).__name__}")
        if self.dsl is not None:
            parse_tandem_query(with_text(self.dsl, "text"))  # raises, naming the JSON path
            object.__setattr__(self, "dsl", copy.deepcopy(dict(self.dsl)))
        content = _names("content_fields", self.content_fields) or tuple(
            field_names(self.options.fields)
        )
        metadata = _names("metadata_fields", self.metadata_fields)
        for name in (*content, *metadata):
            if "*" in name:
                raise ValueError(
                    f"stored field {name!r} is a pattern; name content_fields and "
                    "metadata_fields one by one"
                )
        clash = [name for name in metadata if name in RESERVED]
        if clash:
            raise ValueError(
                f"metadata_fields {clash} would overwrite Tandem's own metadata "
                f"({', '.join(RESERVED)}); leave them out"
            )
        object.__setattr__(self, "content_fields", content)
        object.__setattr__(self, "metadata_fields", metadata)

    def search_options(self, top_k: int | None = None) -> SearchOptions:
        """The options sent: ``options`` asking for the content and metadata fields, and
        ``top_k`` hits when given (the candidate window grows to hold them)."""
        wanted = dict.fromkeys(
            (*self.options.document_fields, *self.content_fields, *self.metadata_fields)
        )
        options = dataclasses.replace(self.options, document_fields=tuple(wanted))
        if top_k is None:
            return options
        window = max(options.window, options.start + top_k)
        return dataclasses.replace(options, size=top_k, window=window)

    def query(self, text: str) -> tuple[str, dict[str, Any] | None]:
        """The search's ``query`` and ``dsl`` arguments for ``text``."""
        if self.dsl is None:
            return text, None
        return "", with_text(self.dsl, text)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        data["options"] = {
            f.name: _plain(getattr(self.options, f.name)) for f in dataclasses.fields(SearchOptions)
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Retrieval:
        values = dict(data)
        if isinstance(values.get("options"), Mapping):
            values["options"] = _build(SearchOptions, values["options"], "retrieval.options")
        for name in ("content_fields", "metadata_fields"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return _build(cls, values, "retrieval")


def _names(label: str, names: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(names, str):
        raise ValueError(f"{label} must be a list of field names, got {names!r}")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{label}[{i}] is empty; name a stored field")
    return tuple(names)


def _plain(value: Any) -> Any:
    """``value`` with read-only mappings and tuples as dicts and lists (JSON and YAML)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _build(cls: type[T], data: Mapping[str, Any], what: str) -> T:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown}; use {', '.join(sorted(known))}")
    return cls(**data)

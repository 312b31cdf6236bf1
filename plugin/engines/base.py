"""The adapter protocol and the plain data it exchanges.

Everything above the adapters (mappings, bulk writer, rewriter, servicers)
talks to engines through :class:`EngineAdapter` and sees only these types and
:mod:`tandem.plugin.engines.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .kinds import EngineKind

Json = dict[str, Any]


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, detected once on connect.

    ``plugins`` holds plugin and module names as the engine reports them
    (``opensearch-knn``, ``opensearch-neural-search``, ``mapper-extras``, ...).
    """

    kind: EngineKind
    version: tuple[int, int, int]
    build_type: str
    plugins: frozenset[str]
    license: str | None
    dense: bool
    knn_engines: tuple[str, ...]
    rank_features: bool
    sparse_vector: bool
    neural_sparse: bool
    hybrid_query: bool
    normalization_techniques: tuple[str, ...]
    rrf_pipeline: bool
    retrievers: tuple[str, ...]

    @property
    def label(self) -> str:
        """The engine and its version for messages, such as ``OpenSearch 3.6.0``."""
        return f"{self.kind.label} {self.version_text}"

    @property
    def language_analyzers(self) -> bool:
        """Whether ``english`` and the other language analyzers (and stemmers) exist: the
        ``analysis-common`` module, absent from Elasticsearch's integ-test zip."""
        return "analysis-common" in self.plugins

    @property
    def version_text(self) -> str:
        return ".".join(str(p) for p in self.version)

    @property
    def sparse_field_types(self) -> tuple[str, ...]:
        """Sparse field types usable here, preferred first."""
        types = []
        if self.rank_features:
            types.append("rank_features")
        if self.sparse_vector:
            types.append("sparse_vector")
        return tuple(types)


@dataclass(frozen=True)
class Completeness:
    """Whether a search saw all of its data in time.

    ``timed_out`` is the engine's own flag (a ``timeout`` in the request or the
    cluster's ``search.default_search_timeout``); ``shard_failures`` has one line
    per failed shard (index, shard, error type and reason). Either makes the
    answer partial: the engine answered HTTP 200 from the shards it could search.
    """

    timed_out: bool = False
    shard_failures: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        return self.timed_out or bool(self.shard_failures)

    @staticmethod
    def merge(reports: Sequence[Completeness]) -> Completeness:
        """One report for several searches (the sub-searches of one ``_msearch``)."""
        return Completeness(
            any(r.timed_out for r in reports),
            tuple(line for r in reports for line in r.shard_failures),
        )


@dataclass(frozen=True)
class BulkItemResult:
    """The engine's answer for one document of a bulk request."""

    id: str
    status: int
    error_type: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """429 and 5xx: the document may go through if sent again later."""
        return self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class IndexSummary:
    """One index as a listing shows it.

    ``docs`` and ``size_bytes`` are ``None`` where the engine does not know them
    (a red index); ``meta`` is the mapping's ``_meta`` (empty when it has none).
    """

    name: str
    docs: int | None
    size_bytes: int | None
    meta: Json = field(default_factory=dict)


class EngineAdapter(Protocol):
    """One engine cluster. Methods raise :mod:`~tandem.plugin.engines.errors` only."""

    @property
    def kind(self) -> EngineKind: ...

    @property
    def url(self) -> str:
        """The engine URL with any password redacted."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def create_index(self, name: str, body: Mapping[str, Any]) -> None: ...

    def delete_index(self, name: str) -> None:
        """Delete ``name``; a missing index is not an error."""
        ...

    def index_exists(self, name: str) -> bool: ...

    def get_mapping(self, name: str) -> Json:
        """The index's ``mappings`` object (``properties``, ``_meta``)."""
        ...

    def list_indices(self) -> list[IndexSummary]:
        """Every open index that is not hidden, by name: documents, store size, ``_meta``."""
        ...

    def bulk(
        self, operations: Sequence[Mapping[str, Any]], refresh: bool = False
    ) -> list[BulkItemResult]:
        """Send NDJSON-style ``operations`` (action line, source line, ...).

        Returns one result per action, in order. A failure of the whole request
        (unreachable, 429, 5xx) raises instead.
        """
        ...

    def existing_ids(self, index: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored in ``index``."""
        ...

    def count(self, index: str) -> int: ...

    def refresh(self, index: str) -> None: ...

    def search(
        self,
        index: str,
        body: Mapping[str, Any],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> Json:
        """One search with ``body`` as given (OpenSearch's native fusion carries its
        search pipeline inside it); ``timeout`` (seconds) overrides the client's for
        this request (a caller's deadline); ``preference`` routes searches that share it
        to the same shard copies."""
        ...

    def msearch(
        self,
        searches: Sequence[tuple[str, Mapping[str, Any]]],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> list[Json]:
        """One round trip for several ``(index, body)`` searches; responses in order.

        A sub-search that failed comes back as a response with an ``error`` key.
        ``preference`` is every sub-search's (see :meth:`search`).
        """
        ...

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        what: str = "request",
    ) -> Json:
        """One REST call the protocol has no method for (point-in-time, aliases, shard
        stats, partial updates): ``path`` is the same on both engines' clients, the answer
        is the JSON body, and ``what`` names the step in errors."""
        ...

    def close(self) -> None: ...

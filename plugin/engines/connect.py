"""Open the right adapter for a URL, with its capabilities detected."""

from __future__ import annotations

from .base import EngineAdapter
from .elasticsearch import ElasticsearchAdapter
from .errors import EngineRequestError, EngineUnavailable
from .identify import NotAnEngine, identify, redact
from .kinds import EngineKind
from .opensearch import OpenSearchAdapter


def connect(url: str, kind: EngineKind | None = None, timeout: float = 30.0) -> EngineAdapter:
    """An adapter for the engine at ``url``, capabilities detected once.

    ``url`` may carry credentials (``http://user:pass@host:9200``); they go to
    the client as basic auth and never into messages. Without ``kind`` the
    engine is identified by asking it. Raises :class:`EngineUnavailable` when
    nothing answers, :class:`EngineRequestError` when something else does.
    """
    if kind is None:
        kind = _identify(url, timeout)
    if kind is EngineKind.OPENSEARCH:
        return OpenSearchAdapter.open(url, timeout)
    return ElasticsearchAdapter.open(url, timeout)


def _identify(url: str, timeout: float) -> EngineKind:
    try:
        identity = identify(url, timeout)
    except NotAnEngine as err:
        raise EngineRequestError(
            f"{redact(url)} answers, but not as OpenSearch or Elasticsearch: {err}"
        ) from err
    if identity is None:
        raise EngineUnavailable(
            f"no engine answers at {redact(url)}: start one with 'tandem engines up' "
            "or check the URL"
        )
    return identity.kind

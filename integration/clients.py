"""Official engine clients for a handle, configured the same way everywhere."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch
from opensearchpy import OpenSearch

from tandem.plugin.engines.kinds import EngineKind

from .handle import EngineHandle

EngineClient = OpenSearch | Elasticsearch


def client_for(handle: EngineHandle, timeout: float = 30.0) -> Any:
    """An ``OpenSearch`` or ``Elasticsearch`` client for ``handle``.

    Typed as ``Any`` because the two clients share method names but not a
    base class; adapters (``tandem.plugin``) put one protocol over them.
    """
    if handle.kind is EngineKind.OPENSEARCH:
        return OpenSearch(hosts=[handle.url], timeout=timeout)
    # Elasticsearch's integ-test zip lacks GET / (rest-root), so never call .info().
    return Elasticsearch(handle.url, request_timeout=timeout)

"""The :class:`~tandem.plugin.engines.base.EngineAdapter` for Elasticsearch (elasticsearch-py 9).

Never calls the client's ``info()``: the integ-test zip has no ``GET /``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from elastic_transport import ConnectionError as ClientConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, Elasticsearch, UnsupportedProductError

from .base import BulkItemResult, Capabilities, IndexSummary, Json
from .capabilities import (
    NODES_FILTER,
    License,
    elasticsearch_capabilities,
    parse_license,
    parse_node,
)
from .errors import EngineBadRequest, EngineRequestError, IndexNotFound
from .identify import redact
from .kinds import EngineKind
from .listing import CAT_COLUMNS, EXPAND, META_FILTER, index_summaries
from .responses import (
    MGET_CHUNK,
    bulk_results,
    chunked,
    engine_errors,
    error_from_body,
    found_ids,
    msearch_lines,
    msearch_responses,
    single_mapping,
    split_auth,
)


def translate(err: Exception, what: str, url: str) -> EngineRequestError | None:
    """elasticsearch-py's exception as the vocabulary's; ``None`` for other exceptions."""
    if isinstance(err, UnsupportedProductError):
        return EngineRequestError(f"{what} failed on {url}: {err}")
    if isinstance(err, ApiError):
        return error_from_body(err.meta.status, err.body, what, url, fallback=err.message)
    if isinstance(err, (ClientConnectionError, ConnectionTimeout)):
        return error_from_body(None, None, what, url, fallback=err.message)
    if isinstance(err, TransportError):  # serialisation and other client-side failures
        return EngineRequestError(f"{what} failed on {url}: {err}")
    return None


def _license(client: Elasticsearch, url: str) -> License | None:
    """The cluster's licence; ``None`` where there is no licensing API (no x-pack)."""
    with suppress(IndexNotFound, EngineBadRequest), engine_errors(translate, "licence", url):
        return parse_license(client.license.get().body)
    return None


class ElasticsearchAdapter:
    """One Elasticsearch cluster behind the adapter protocol.

    Build it with :meth:`open` (or :func:`tandem.plugin.engines.connect.connect`),
    which detects the capabilities before the adapter exists.
    """

    def __init__(self, client: Elasticsearch, url: str, capabilities: Capabilities) -> None:
        self._client = client
        self._url = url
        self._capabilities = capabilities

    @classmethod
    def open(cls, url: str, timeout: float = 30.0) -> ElasticsearchAdapter:
        """Connect to ``url`` (credentials may be in it) and detect what it can do.

        The client does not retry: retries with backoff belong to the bulk
        writer, which knows which documents to resend.
        """
        bare, auth = split_auth(url)
        client = Elasticsearch(
            bare,
            basic_auth=auth,
            request_timeout=timeout,
            max_retries=0,
            retry_on_status=(),
            retry_on_timeout=False,
        )
        shown = redact(url)
        try:
            with engine_errors(translate, "capability detection", shown):
                info = client.nodes.info(
                    node_id="_local", metric="plugins", filter_path=NODES_FILTER
                )
            capabilities = elasticsearch_capabilities(
                parse_node(info.body), _license(client, shown)
            )
        except ValueError as err:  # the engine answered, but not as expected
            client.close()
            raise EngineRequestError(f"capability detection failed on {shown}: {err}") from err
        except BaseException:
            client.close()
            raise
        return cls(client, shown, capabilities)

    @property
    def kind(self) -> EngineKind:
        return EngineKind.ELASTICSEARCH

    @property
    def url(self) -> str:
        return self._url

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def create_index(self, name: str, body: Mapping[str, Any]) -> None:
        with engine_errors(translate, f"creating index {name}", self._url):
            self._client.indices.create(index=name, body=dict(body))

    def delete_index(self, name: str) -> None:
        with engine_errors(translate, f"deleting index {name}", self._url):
            self._client.indices.delete(index=name, ignore_unavailable=True)

    def index_exists(self, name: str) -> bool:
        with engine_errors(translate, f"checking index {name}", self._url):
            return bool(self._client.indices.exists(index=name))

    def get_mapping(self, name: str) -> Json:
        with engine_errors(translate, f"reading the mapping of {name}", self._url):
            found = dict(self._client.indices.get_mapping(index=name))
        return single_mapping(name, found)

    def list_indices(self) -> list[IndexSummary]:
        with engine_errors(translate, "listing indices", self._url):
            rows = self._client.cat.indices(
                format="json", h=CAT_COLUMNS, bytes="b", expand_wildcards=EXPAND
            )
            mappings = self._client.indices.get_mapping(
                index="*", expand_wildcards=EXPAND, filter_path=META_FILTER
            )
        if not isinstance(rows.body, list):
            raise EngineRequestError(
                f"listing indices failed on {self._url}: _cat/indices sent no JSON"
            )
        return index_summaries(rows.body, mappings.body)

    def bulk(
        self, operations: Sequence[Mapping[str, Any]], refresh: bool = False
    ) -> list[BulkItemResult]:
        if not operations:
            return []
        with engine_errors(translate, "bulk", self._url):
            response = self._client.bulk(operations=list(operations), refresh=refresh)
        return bulk_results(response.body)

    def existing_ids(self, index: str, ids: Sequence[str]) -> set[str]:
        what = f"looking up ids in {index}"
        found: set[str] = set()
        for chunk in chunked(ids, MGET_CHUNK):
            with engine_errors(translate, what, self._url):
                response = self._client.mget(index=index, ids=list(chunk), source=False)
            found |= found_ids(response.body, what, self._url)
        return found

    def count(self, index: str) -> int:
        with engine_errors(translate, f"counting {index}", self._url):
            return int(self._client.count(index=index)["count"])

    def refresh(self, index: str) -> None:
        with engine_errors(translate, f"refreshing {index}", self._url):
            self._client.indices.refresh(index=index)

    def search(
        self,
        index: str,
        body: Mapping[str, Any],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> Json:
        client = self._client.options(request_timeout=timeout) if timeout else self._client
        with engine_errors(translate, f"search in {index}", self._url):
            if preference:
                found = client.search(index=index, body=dict(body), preference=preference)
            else:
                found = client.search(index=index, body=dict(body))
            return dict(found.body)

    def msearch(
        self,
        searches: Sequence[tuple[str, Mapping[str, Any]]],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> list[Json]:
        if not searches:
            return []
        client = self._client.options(request_timeout=timeout) if timeout else self._client
        with engine_errors(translate, "msearch", self._url):
            response = client.msearch(searches=msearch_lines(searches, preference))
        return msearch_responses(response.body, len(searches))

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        what: str = "request",
    ) -> Json:
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        with engine_errors(translate, what, self._url):
            answer = self._client.perform_request(
                method,
                f"{path}?{query}" if query else path,
                headers=headers,
                body=dict(body) if body is not None else None,
            )
        found = answer.body
        return dict(found) if isinstance(found, Mapping) else {"answer": found}

    def close(self) -> None:
        self._client.close()

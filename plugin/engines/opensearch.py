"""The :class:`~tandem.plugin.engines.base.EngineAdapter` for OpenSearch (opensearch-py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as ClientConnectionError
from opensearchpy.exceptions import OpenSearchException, TransportError

from .base import BulkItemResult, Capabilities, IndexSummary, Json
from .capabilities import NODES_FILTER, opensearch_capabilities, parse_node
from .errors import EngineRequestError
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
    """opensearch-py's exception as the vocabulary's; ``None`` for other exceptions."""
    if isinstance(err, ClientConnectionError):  # also timeouts and TLS failures
        return error_from_body(None, None, what, url, fallback=str(err.error))
    if isinstance(err, TransportError):
        status = err.status_code if isinstance(err.status_code, int) else None
        return error_from_body(status, err.info, what, url, fallback=str(err.error))
    if isinstance(err, OpenSearchException):
        return EngineRequestError(f"{what} failed on {url}: {err}")
    return None


class OpenSearchAdapter:
    """One OpenSearch cluster behind the adapter protocol.

    Build it with :meth:`open` (or :func:`tandem.plugin.engines.connect.connect`),
    which detects the capabilities before the adapter exists.
    """

    def __init__(self, client: OpenSearch, url: str, capabilities: Capabilities) -> None:
        self._client = client
        self._url = url
        self._capabilities = capabilities

    @classmethod
    def open(cls, url: str, timeout: float = 30.0) -> OpenSearchAdapter:
        """Connect to ``url`` (credentials may be in it) and detect what it can do.

        The client does not retry: retries with backoff belong to the bulk
        writer, which knows which documents to resend.
        """
        bare, auth = split_auth(url)
        # urllib3 keeps one connection by default: concurrent searches would each open one
        # and discard it ("Connection pool is full"). elasticsearch-py keeps 10 per node.
        client = OpenSearch(
            hosts=[bare],
            http_auth=auth,
            timeout=timeout,
            max_retries=0,
            retry_on_status=(),
            pool_maxsize=10,
        )
        shown = redact(url)
        try:
            with engine_errors(translate, "capability detection", shown):
                node = parse_node(
                    client.nodes.info(node_id="_local", metric="plugins", filter_path=NODES_FILTER)
                )
        except ValueError as err:  # the engine answered, but not as expected
            client.close()
            raise EngineRequestError(f"capability detection failed on {shown}: {err}") from err
        except BaseException:
            client.close()
            raise
        return cls(client, shown, opensearch_capabilities(node))

    @property
    def kind(self) -> EngineKind:
        return EngineKind.OPENSEARCH

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
            self._client.indices.delete(index=name, params={"ignore_unavailable": "true"})

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
        return index_summaries(rows, mappings)

    def bulk(
        self, operations: Sequence[Mapping[str, Any]], refresh: bool = False
    ) -> list[BulkItemResult]:
        if not operations:
            return []
        with engine_errors(translate, "bulk", self._url):
            response = self._client.bulk(
                body=list(operations), params={"refresh": "true" if refresh else "false"}
            )
        return bulk_results(response)

    def existing_ids(self, index: str, ids: Sequence[str]) -> set[str]:
        what = f"looking up ids in {index}"
        found: set[str] = set()
        for chunk in chunked(ids, MGET_CHUNK):
            with engine_errors(translate, what, self._url):
                response = self._client.mget(
                    body={"ids": list(chunk)}, index=index, params={"_source": "false"}
                )
            found |= found_ids(response, what, self._url)
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
        extra: dict[str, Any] = {"request_timeout": timeout} if timeout else {}
        if preference:
            extra["preference"] = preference
        with engine_errors(translate, f"search in {index}", self._url):
            return dict(self._client.search(index=index, body=dict(body), **extra))

    def msearch(
        self,
        searches: Sequence[tuple[str, Mapping[str, Any]]],
        timeout: float | None = None,
        preference: str | None = None,
    ) -> list[Json]:
        if not searches:
            return []
        extra = {"request_timeout": timeout} if timeout else {}
        with engine_errors(translate, "msearch", self._url):
            response = self._client.msearch(body=msearch_lines(searches, preference), **extra)
        return msearch_responses(response, len(searches))

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        what: str = "request",
    ) -> Json:
        with engine_errors(translate, what, self._url):
            answer = self._client.transport.perform_request(
                method, path, params=dict(params or {}), body=dict(body) if body else None
            )
        return dict(answer) if isinstance(answer, Mapping) else {"answer": answer}

    def close(self) -> None:
        self._client.close()

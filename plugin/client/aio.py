"""An asyncio client for searches, on ``grpc.aio``: the twin of :meth:`TandemClient.search`.

It builds the same ``SearchRequest`` and reads the same ``SearchResponse`` as the
synchronous client (:func:`~.client.search_request`, :func:`~.client.search_hits`), so
both answer alike. A ``grpc.aio`` channel belongs to the event loop it was made in:
create the client inside the loop that uses it (``async with AsyncTandemClient(...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import grpc
from grpc import aio

from tandem.plugin.search.options import SearchOptions
from tandem.v1 import search_pb2_grpc

from .client import (
    SearchHits,
    bearer,
    client_error,
    open_channel,
    search_hits,
    search_request,
)
from .tls import PathArg, channel_credentials


class AsyncTandemClient:
    """Searches one sidecar without blocking the event loop.

    The arguments are :class:`~.client.TandemClient`'s: ``token`` is sent as a bearer
    token, ``tls``/``tls_ca``/``tls_cert``/``tls_key`` set up TLS, and every search
    has a deadline of ``timeout`` seconds."""

    def __init__(
        self,
        address: str = "localhost:50051",
        *,
        token: str | None = None,
        tls: bool = False,
        tls_ca: PathArg | None = None,
        tls_cert: PathArg | None = None,
        tls_key: PathArg | None = None,
        timeout: float = 60.0,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.channel = open_channel(
            aio.secure_channel,
            aio.insecure_channel,
            address,
            channel_credentials(tls=tls, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key),
            max_message_bytes,
        )
        self.timeout = timeout
        self._metadata = bearer(token)
        self._search = search_pb2_grpc.SearchServiceStub(self.channel)

    async def close(self) -> None:
        await self.channel.close(None)  # grpc-stubs wants grace, which defaults to None

    async def __aenter__(self) -> AsyncTandemClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def search(
        self,
        index: str,
        query: str,
        options: SearchOptions = SearchOptions(),
        dsl: Mapping[str, Any] | None = None,
        *,
        dense_field: str | None = None,
        sparse_field: str | None = None,
    ) -> SearchHits:
        """What :meth:`TandemClient.search` returns for the same arguments."""
        request = search_request(index, query, options, dsl, dense_field, sparse_field)
        try:
            response = await self._search.Search(
                request, timeout=self.timeout, metadata=self._metadata
            )
        except grpc.RpcError as err:
            raise client_error(err) from None
        return search_hits(response)

"""The Python client of the Tandem sidecar (``tandem.v1`` over gRPC).

Light by design: importing it loads gRPC and the ``tandem.v1`` messages, never
the encoders, onnxruntime, tokenizers or numpy (a client-only install is
``pip install tandem-search``; the sidecar needs the ``server`` extra).

>>> from tandem.client import TandemClient
>>> with TandemClient("localhost:50051") as client:
...     vectors = client.encode_dense(["hybrid search"], kind="query").vectors

Over TLS: ``TandemClient(address, tls_ca="ca.pem")`` (or ``tls=True`` for the system's
CAs), plus ``tls_cert``/``tls_key`` where the sidecar requires a client certificate.
In asyncio code, ``AsyncTandemClient`` searches on ``grpc.aio`` with the same arguments.
"""

from tandem.plugin.search.hits import FusedHit, Source
from tandem.plugin.search.options import SearchOptions

from .aio import AsyncTandemClient
from .client import (
    ClientError,
    DenseResult,
    IndexProgress,
    IndexResult,
    Metadata,
    SearchHits,
    SparseResult,
    SparseTerm,
    TandemClient,
)
from .enrich import EnrichProgress, EnrichResult, EnrichSettings

__all__ = [
    "AsyncTandemClient",
    "ClientError",
    "DenseResult",
    "EnrichProgress",
    "EnrichResult",
    "EnrichSettings",
    "FusedHit",
    "IndexProgress",
    "IndexResult",
    "Metadata",
    "SearchHits",
    "SearchOptions",
    "Source",
    "SparseResult",
    "SparseTerm",
    "TandemClient",
]

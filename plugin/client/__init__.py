"""The Python client of the Tandem sidecar (``tandem.v1`` over gRPC).

>>> from tandem.client import TandemClient
>>> with TandemClient("localhost:50051") as client:
...     vectors = client.encode_dense(["hybrid search"], kind="query").vectors
"""

from .client import (
    ClientError,
    DenseResult,
    IndexResult,
    Metadata,
    SearchHits,
    SparseResult,
    SparseTerm,
    TandemClient,
)

__all__ = [
    "ClientError",
    "DenseResult",
    "IndexResult",
    "Metadata",
    "SearchHits",
    "SparseResult",
    "SparseTerm",
    "TandemClient",
]

"""The sidecar's HTTP/JSON face (``--http-port``): TEI, OpenAI and Tandem's own routes.

It runs in the same process and event loop as the gRPC server and shares its
models' batchers, request limits, bearer token, TLS files and metrics.
"""

from .server import HttpFace, bind_http

__all__ = ["HttpFace", "bind_http"]

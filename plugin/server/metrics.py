"""Prometheus metrics: requests, latency, batch sizes, queue depth, tokens.

Each server owns a :class:`Metrics` with its own registry, so several servers
in one process (tests, benchmarks) never share counters.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tandem.plugin.engines.base import Completeness

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_TOKEN_BUCKETS = (16, 64, 256, 512, 1024, 2048, 4096, 8192)


class Metrics:
    """The sidecar's metrics; implements the batcher's ``BatchObserver``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "tandem_requests",
            "RPCs answered, by method and status code",
            ["method", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "tandem_request_seconds",
            "RPC latency in the server",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "tandem_batch_size",
            "texts per model run",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.batch_tokens = Histogram(
            "tandem_batch_tokens",
            "real tokens per model run",
            ["model"],
            buckets=_TOKEN_BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "tandem_inference_seconds",
            "model run time per batch",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue = Gauge("tandem_queue_depth", "texts waiting for a batch", ["model"], registry=r)
        self.tokens = Counter("tandem_tokens", "tokens encoded", ["model"], registry=r)
        self.ingest_streams = Gauge(
            "tandem_ingest_streams", "IndexDocuments and EnrichIndex streams running", registry=r
        )
        self.documents = Counter(
            "tandem_documents",
            "documents through IndexDocuments, by outcome",
            ["status"],
            registry=r,
        )
        self.batcher_restarts = Counter(
            "tandem_batcher_restarts",
            "batch loops restarted after an error outside the model, by model",
            ["model"],
            registry=r,
        )
        self.partial_results = Counter(
            "tandem_partial_results",
            "searches the engine answered from part of the data, by cause",
            ["cause"],
            registry=r,
        )
        self.query_cache = Counter(
            "tandem_query_cache_lookups",
            "query embeddings looked up in the query cache, by model and result (hit, miss)",
            ["model", "result"],
            registry=r,
        )

    def batch(self, model: str, rows: int, tokens: int, seconds: float) -> None:
        self.batch_size.labels(model).observe(rows)
        self.batch_tokens.labels(model).observe(tokens)
        self.inference.labels(model).observe(seconds)
        self.tokens.labels(model).inc(tokens)

    def queue_depth(self, model: str, depth: int) -> None:
        self.queue.labels(model).set(depth)

    def restarted(self, model: str) -> None:
        self.batcher_restarts.labels(model).inc()

    def partial(self, report: Completeness) -> None:
        """Count one partial search under each of its causes (timed_out, shard_failures)."""
        if report.timed_out:
            self.partial_results.labels("timed_out").inc()
        if report.shard_failures:
            self.partial_results.labels("shard_failures").inc()

    def cache_lookup(self, model: str, hit: bool) -> None:
        self.query_cache.labels(model, "hit" if hit else "miss").inc()

    def request(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)

    def serve(self, host: str, port: int) -> tuple[Any, int]:
        """Start ``/metrics`` on a daemon thread; returns the HTTP server and its port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server, int(server.server_port)

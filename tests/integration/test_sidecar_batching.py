"""64 concurrent single-text requests are batched and still get their own vectors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tandem.client import TandemClient
from tandem.plugin.server.embedded import EmbeddedSidecar

from .sidecar import sample, scrape

TEXTS = [f"query number {i}: {'dense ' * (i % 7)}retrieval with fusion" for i in range(64)]


def test_concurrent_requests_are_batched_and_match_sequential_calls(
    encoding_sidecar: EmbeddedSidecar, encoding_client: TandemClient
) -> None:
    sequential = [encoding_client.encode_dense([t], kind="query").vectors[0] for t in TEXTS]
    before = scrape(encoding_sidecar)
    runs_before = sample(before, "tandem_batch_size_count", model="minilm")
    texts_before = sample(before, "tandem_batch_size_sum", model="minilm")

    clients = [TandemClient(encoding_sidecar.address) for _ in range(8)]
    try:
        with ThreadPoolExecutor(64) as pool:
            futures = [
                pool.submit(clients[i % 8].encode_dense, [t], "query") for i, t in enumerate(TEXTS)
            ]
            concurrent = [f.result().vectors[0] for f in futures]
    finally:
        for client in clients:
            client.close()

    for got, expected in zip(concurrent, sequential, strict=True):
        assert float(np.dot(got, expected)) > 0.9999
    after = scrape(encoding_sidecar)
    runs = sample(after, "tandem_batch_size_count", model="minilm") - runs_before
    texts = sample(after, "tandem_batch_size_sum", model="minilm") - texts_before
    assert texts == 64
    assert runs < 64, f"64 texts took {runs} model runs: nothing was batched"
    assert 64 / runs > 1.5  # mean batch size


def test_metrics_count_requests_tokens_and_queue(encoding_sidecar: EmbeddedSidecar) -> None:
    page = scrape(encoding_sidecar)
    assert sample(page, "tandem_requests_total", method="EncodeDense", code="OK") >= 64
    assert sample(page, "tandem_tokens_total", model="minilm") > 0
    assert "tandem_queue_depth" in page
    assert sample(page, "tandem_request_seconds_count", method="EncodeDense") >= 64
    assert 'tandem_batch_tokens_bucket{le="1024.0",model="minilm"}' in page

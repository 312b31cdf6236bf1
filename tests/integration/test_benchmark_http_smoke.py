"""``python -m benchmarks.http`` runs end to end against a real ``tandem serve``.

A smoke test of the script (every route at 1 client, both protocols under load, no
errors), not of its numbers: speed claims live in the benchmark's own output.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import http

pytestmark = pytest.mark.integration


def test_the_http_benchmark_compares_every_route_with_grpc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert http.main(["--requests", "5", "--clients", "4", "--duration", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    latency = {row["name"]: row for row in result["latency"]}
    assert set(latency) == {
        "gRPC EncodeDense",
        "HTTP /embed",
        "HTTP /v1/embeddings",
        "gRPC EncodeSparse",
        "HTTP /embed_sparse",
    }
    assert all(row["p50_ms"] > 0 for row in latency.values())
    assert latency["HTTP /embed"]["ratio_to_grpc"] > 0
    assert latency["gRPC EncodeDense"]["ratio_to_grpc"] is None
    load = {row["name"]: row for row in result["throughput"]}
    assert set(load) == {"gRPC EncodeDense", "HTTP /embed"}
    assert all(row["per_second"] > 0 and row["errors"] == 0 for row in load.values())

"""A batch loop that crashes outside the model, on a real sidecar over real gRPC.

The fault is injected once into the batch-cutting step of the running sidecar
(same process: the embedded server). Health is followed with the standard
``grpc.health.v1.Health/Watch`` stream, as a load balancer would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tandem.client import ClientError, TandemClient
from tandem.plugin.server import batcher as batcher_module
from tandem.plugin.server.app import ENCODE_SERVICES, OVERALL
from tandem.plugin.server.batcher import BatcherOptions
from tandem.plugin.server.embedded import EmbeddedSidecar

from .sidecar import sample, scrape, start_sidecar

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
ENCODE_SERVICE = ENCODE_SERVICES[1]  # tandem.v1.EncodeService


class HealthWatch:
    """Every status the server sends on one Watch stream, until closed."""

    def __init__(self, channel: grpc.Channel, service: str) -> None:
        self.statuses: list[int] = []
        self.changed = threading.Condition()
        request = health_pb2.HealthCheckRequest(service=service)
        self._stream = health_pb2_grpc.HealthStub(channel).Watch(request)
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for response in self._stream:
                with self.changed:
                    self.statuses.append(response.status)
                    self.changed.notify_all()
        except grpc.RpcError:
            return  # cancelled by close()

    def wait_for(self, statuses: list[int], timeout: float = 30) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: self.statuses == statuses, timeout)
        assert ok, f"health went {self.statuses}, expected {statuses}"

    def close(self) -> None:
        self._stream.cancel()
        self._thread.join(5)


@pytest.fixture
def sidecar() -> Iterator[EmbeddedSidecar]:
    # A dense model only; a private sidecar, since the test breaks its batcher once.
    sidecar = start_sidecar(sparse="none")
    yield sidecar
    sidecar.stop()


def _break_batch_cutting_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    real_pick = batcher_module.pick_batch
    calls: list[int] = []

    def pick(lengths: list[int], options: BatcherOptions) -> list[int]:
        calls.append(len(lengths))
        if len(calls) == 1:
            raise RuntimeError("injected fault in batch cutting")
        return real_pick(lengths, options)

    monkeypatch.setattr(batcher_module, "pick_batch", pick)
    return calls


def test_a_crashed_batch_loop_goes_not_serving_answers_unavailable_and_restarts(
    sidecar: EmbeddedSidecar, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        TandemClient(sidecar.address, timeout=30) as client,
        grpc.insecure_channel(sidecar.address) as channel,
    ):
        before = client.encode_dense(["served before the crash"]).vectors
        watches = {name: HealthWatch(channel, name) for name in (ENCODE_SERVICE, OVERALL)}
        try:
            for watch in watches.values():
                watch.wait_for([SERVING])
            calls = _break_batch_cutting_once(monkeypatch)

            with pytest.raises(ClientError) as waiting:
                client.encode_dense(["waiting when the loop crashes"])
            assert waiting.value.code is grpc.StatusCode.UNAVAILABLE
            assert "restarts in" in waiting.value.details and "retry" in waiting.value.details

            for watch in watches.values():
                watch.wait_for([SERVING, NOT_SERVING, SERVING])
            assert client.health() == "SERVING"
            after = client.encode_dense(["served before the crash"]).vectors
            assert after.shape == before.shape == (1, 384)
            assert float(after[0] @ before[0]) > 0.9999
            assert len(calls) >= 2  # the restarted loop cut the later batch
        finally:
            for watch in watches.values():
                watch.close()
    page = scrape(sidecar)
    assert sample(page, "tandem_batcher_restarts_total", model="minilm") == 1
    assert sample(page, "tandem_requests_total", method="EncodeDense", code="UNAVAILABLE") == 1

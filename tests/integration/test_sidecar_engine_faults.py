"""The engine is down at start, goes away, and comes back: the sidecar copes without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle

from .proxy import Proxy
from .sidecar import start_sidecar

SEARCH = "tandem.v1.SearchService"


def _eventually(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("the sidecar did not notice in time")
        time.sleep(0.2)


def test_engine_down_at_start_then_up_then_down_again(engine: EngineHandle) -> None:
    parts = urlsplit(engine.url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 9200))
    sidecar = start_sidecar(
        engine=proxy.url, engine_check_interval=0.5, engine_timeout=3.0, metrics_port=-1
    )
    try:
        with TandemClient(sidecar.address, timeout=20) as client:
            # Down at start: encoding serves, the engine services say so, search explains.
            assert client.health("tandem.v1.EncodeService") == "SERVING"
            assert client.health(SEARCH) == "NOT_SERVING"
            assert client.encode_dense(["still encoding"]).vectors.shape == (1, 384)
            with pytest.raises(ClientError) as down:
                client.search("any-index", "query")
            assert down.value.code is grpc.StatusCode.UNAVAILABLE
            assert "does not answer" in down.value.details

            proxy.up()  # the engine appears: no restart needed
            _eventually(lambda: client.health(SEARCH) == "SERVING")
            (engine_info,) = client.info()["engines"]
            assert engine_info["reachable"] is True
            with pytest.raises(ClientError) as missing:
                client.search("tandem-no-such-index", "query")
            assert missing.value.code is grpc.StatusCode.NOT_FOUND  # the engine answered

            proxy.down()  # and goes away again
            _eventually(lambda: client.health(SEARCH) == "NOT_SERVING")
            with pytest.raises(ClientError) as gone:
                client.search("any-index", "query")
            assert gone.value.code is grpc.StatusCode.UNAVAILABLE
            assert client.encode_sparse(["still encoding"]).vectors

            proxy.up()
            _eventually(lambda: client.health(SEARCH) == "SERVING")
    finally:
        sidecar.stop()
        proxy.down()


def test_a_deadline_reaches_the_engine_and_frees_the_request(engine: EngineHandle) -> None:
    parts = urlsplit(engine.url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 9200))
    proxy.up()
    sidecar = start_sidecar(engine=proxy.url, engine_timeout=20.0, engine_check_interval=60.0)
    metrics = sidecar.sidecar.runtime.metrics.registry
    try:
        with TandemClient(sidecar.address, timeout=1.0) as client:
            with pytest.raises(ClientError) as fast:  # a quick engine answer first
                client.search("tandem-no-such-index", "query")
            assert fast.value.code is grpc.StatusCode.NOT_FOUND
            proxy.delay = 4.0  # now the engine is slow
            started = time.monotonic()
            with pytest.raises(ClientError) as slow:
                client.search("tandem-no-such-index", "query")
            assert slow.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
            assert time.monotonic() - started < 2.5

            def released() -> bool:
                ended = [
                    metrics.get_sample_value(
                        "tandem_requests_total", {"method": "Search", "code": code}
                    )
                    or 0.0
                    for code in ("CANCELLED", "DEADLINE_EXCEEDED")
                ]
                return sum(ended) == 1.0

            _eventually(released, 5.0)  # the handler let go at the deadline
            # ... and so did the engine call: it hung up long before the slow answer
            # (4 s) or --engine-timeout (20 s) would have ended it.
            _eventually(lambda: any(t - started < 3.0 for t in proxy.client_hangups), 5.0)
    finally:
        sidecar.stop()
        proxy.down()

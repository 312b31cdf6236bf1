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

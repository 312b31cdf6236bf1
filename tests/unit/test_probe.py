from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from tandem.integration import probe
from tandem.plugin.engines import identify as identify_module
from tandem.plugin.engines.kinds import EngineKind

Reply = tuple[int, dict[str, str], Any]


def _serve(monkeypatch: pytest.MonkeyPatch, replies: dict[str, Reply]) -> list[str]:
    asked: list[str] = []

    def fake_get(url: str, path: str, timeout: float) -> Reply:
        asked.append(path)
        return replies[path]

    # identify() lives in the core (engines.identify), cluster_health() in the launcher's probe.
    monkeypatch.setattr(identify_module, "get_json", fake_get)
    monkeypatch.setattr(probe, "get_json", fake_get)
    return asked


def test_identify_opensearch(monkeypatch: pytest.MonkeyPatch) -> None:
    root = {"version": {"distribution": "opensearch", "number": "3.6.0"}}
    _serve(monkeypatch, {"/": (200, {}, root)})
    assert probe.identify("http://x:9200") == probe.EngineIdentity(
        EngineKind.OPENSEARCH, "3.6.0", "http://x:9200"
    )


def test_identify_elasticsearch_without_rest_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # The integ-test zip answers GET / with 405 but still sends its product header.
    refused = (405, {"x-elastic-product": "Elasticsearch"}, {"error": "Incorrect HTTP method"})
    nodes = (200, {}, {"nodes": {"abc": {"version": "9.5.4"}}})
    asked = _serve(monkeypatch, {"/": refused, "/_nodes/_local?filter_path=nodes.*.version": nodes})
    identity = probe.identify("http://x:9210")
    assert identity is not None
    assert (identity.kind, identity.version) == (EngineKind.ELASTICSEARCH, "9.5.4")
    assert len(asked) == 2


def test_something_else_on_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, {"/": (200, {}, {"hello": "world"})})
    with pytest.raises(probe.NotAnEngine, match="HTTP 200"):
        probe.identify("http://x:9200")


def test_nothing_listening_returns_none() -> None:
    port = _free_port()
    assert probe.identify(f"http://127.0.0.1:{port}", timeout=1) is None
    assert probe.cluster_health(f"http://127.0.0.1:{port}", timeout=1) is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_port_is_free() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not probe.port_is_free(sock.getsockname()[1])


def test_credentials_become_a_header_and_are_redacted() -> None:
    base, headers = probe.split_credentials("https://elastic:s3cret@es.local:9200/")
    assert base == "https://es.local:9200"
    assert headers["Authorization"].startswith("Basic ")
    assert (
        probe.redact("https://elastic:s3cret@es.local:9200") == "https://elastic:***@es.local:9200"
    )
    assert probe.redact("http://es.local:9200") == "http://es.local:9200"


def test_wait_healthy_fails_fast_when_the_process_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "cluster_health", lambda url, timeout=3.0: None)
    with pytest.raises(probe.EngineStartError, match="boom: exited during start"):
        probe.wait_healthy("http://x", 60, lambda: False, lambda what: f"boom: {what}")


def test_wait_healthy_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "cluster_health", lambda url, timeout=3.0: "red")
    with pytest.raises(probe.EngineStartError, match="not healthy after 0s"):
        probe.wait_healthy("http://x", 0.05, lambda: True, lambda what: what, interval=0.01)


def test_a_port_that_does_not_speak_http_is_not_an_engine() -> None:
    # An engine's transport port (HTTP + 100) answers any request with this line.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"This is not an HTTP port")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(probe.NotAnEngine, match="does not speak HTTP"):
            probe.identify(f"http://127.0.0.1:{port}")
        thread.join(5)

"""``tandem search`` and ``tandem index`` (no ``--server``) when the engine is not there, or
stops answering half-way: an error naming the URL and what to do, never a traceback."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tandem.integration.handle import EngineHandle

from .cli import tandem


class CuttingProxy:
    """Forwards to the engine, but drops the connection of any request naming one of
    ``cut``: the engine answers who it is, then goes away for searches and writes."""

    def __init__(self, upstream: tuple[str, int], cut: tuple[bytes, ...]) -> None:
        self.upstream, self.cut = upstream, cut
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                return
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        try:
            while data := source.recv(65536):
                if requests and any(word in data for word in self.cut):
                    return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def cutting(engine: EngineHandle) -> Iterator[CuttingProxy]:
    parts = urlsplit(engine.url)
    upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
    proxy = CuttingProxy(upstream, (b"_msearch", b"_bulk"))
    yield proxy
    proxy.close()


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _assert_one_clear_error(stderr: str, url: str) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("tandem: error:")]
    assert len(errors) == 1, stderr
    assert url in errors[0], stderr


def test_no_engine_at_start(tmp_path: Path) -> None:
    url = _closed_url()
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "1", "text": "vitamin d"}) + "\n")
    for args in (
        ("search", "vitamin", "--index", "tandem-none", "--engine", url, "--method", "bm25"),
        ("index", str(docs), "--index", "tandem-none", "--engine", url, "--sparse", "none"),
    ):
        done = tandem(*args, timeout=300)
        assert done.returncode == 2, done.stderr
        _assert_one_clear_error(done.stderr, url)
        assert "tandem engines up" in done.stderr  # what to do


def test_the_engine_stops_answering_during_a_search(
    cutting: CuttingProxy, engine_client: Any, index_name: str
) -> None:
    engine_client.indices.create(index=index_name)
    done = tandem("search", "vitamin", "--index", index_name, "--engine", cutting.url,
                  "--method", "bm25", timeout=300)  # fmt: skip
    assert done.returncode == 2, done.stderr
    _assert_one_clear_error(done.stderr, cutting.url)
    assert "not reachable" in done.stderr and "check that it runs" in done.stderr


def test_the_engine_stops_answering_during_an_index(
    tmp_path: Path, cutting: CuttingProxy, engine_client: Any
) -> None:
    name = f"tandem-test-{uuid.uuid4().hex[:12]}"
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "1", "text": "vitamin d"}) + "\n")
    try:
        done = tandem("index", str(docs), "--index", name, "--engine", cutting.url,
                      "--sparse", "none", timeout=300)  # fmt: skip
    finally:
        engine_client.indices.delete(index=name, ignore_unavailable=True)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    said = done.stdout + done.stderr
    assert "failed 1" in said and "not reachable" in said and "check that it runs" in said
    assert cutting.url in said

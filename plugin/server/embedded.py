"""A sidecar on its own event-loop thread, for tests, benchmarks and notebooks."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from .app import Sidecar, start
from .settings import Settings


class EmbeddedSidecar:
    """Starts a real server (real sockets) in this process; ``address`` is where it listens."""

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tandem-sidecar", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(start(settings), self._loop)
        try:
            self.sidecar: Sidecar = future.result()
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            raise

    @property
    def port(self) -> int:
        return self.sidecar.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def refresh_health(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sidecar.refresh_health(), self._loop).result()

    def stop(self, grace: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.sidecar.stop(grace), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> EmbeddedSidecar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

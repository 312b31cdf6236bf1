"""The sidecar's link to its engine: connect when it answers, notice when it stops.

The engine may be down when the sidecar starts, or go away and come back;
:meth:`EngineLink.check` (run periodically) connects or re-probes it, so
encoding keeps serving and search recovers without a restart.
"""

from __future__ import annotations

import logging
import threading

from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import EngineRequestError
from tandem.plugin.engines.identify import NotAnEngine, identify, redact

from .errors import NotReady

log = logging.getLogger("tandem.server")


class EngineLink:
    """An adapter for ``url`` once the engine answers; ``url=None`` means encoding only."""

    def __init__(self, url: str | None, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._adapter: EngineAdapter | None = None
        self._reachable = False
        self._warned = False
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.url is not None

    @property
    def display_url(self) -> str:
        """The URL without its password: safe to log and to return to clients."""
        return redact(self.url) if self.url else ""

    @property
    def reachable(self) -> bool:
        return self._reachable

    @property
    def adapter(self) -> EngineAdapter | None:
        return self._adapter

    def require(self) -> EngineAdapter:
        """The adapter, or :class:`NotReady` saying why there is none."""
        if self.url is None:
            raise NotReady(
                "this sidecar runs without an engine: start it with --engine URL "
                "(or TANDEM_ENGINE) to index and search"
            )
        if self._adapter is None or not self._reachable:
            raise NotReady(
                f"the engine at {redact(self.url)} does not answer; the sidecar keeps "
                "checking and serves search again once it is back"
            )
        return self._adapter

    def check(self) -> bool:
        """Connect, or probe the connected engine; returns whether it answers. Blocking."""
        if self.url is None:
            return False
        with self._lock:
            was = self._reachable
            if self._adapter is None:
                try:
                    self._adapter = connect(self.url, timeout=self.timeout)
                    self._reachable = True
                except EngineRequestError as err:
                    self._reachable = False
                    if not self._warned:  # once, not every check
                        log.warning("engine not ready: %s", err)
                        self._warned = True
            else:
                try:
                    self._reachable = identify(self.url, min(self.timeout, 5.0)) is not None
                except (OSError, NotAnEngine):  # refused, reset mid-answer, or not an engine
                    self._reachable = False
            if self._reachable != was:
                state = "answers" if self._reachable else "stopped answering"
                log.info("engine at %s %s", redact(self.url), state)
            return self._reachable

    def close(self) -> None:
        with self._lock:
            if self._adapter is not None:
                self._adapter.close()
                self._adapter = None
            self._reachable = False

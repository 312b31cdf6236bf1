"""Errors raised while fetching, installing, starting or attaching engines.

Every message says what went wrong and what to do next; where a log file
exists its path is part of the message.
"""

from __future__ import annotations


class EngineError(RuntimeError):
    """Base class for engine launcher failures."""


class ToolMissingError(EngineError):
    """No installed JDK fits the engine (or a tool the launcher needs is missing)."""


class ArtifactNotFoundError(EngineError):
    """The requested engine or plugin version is not on Maven Central."""


class PortInUseError(EngineError):
    """The engine's port is taken by something that is not the requested engine."""


class EngineStartError(EngineError):
    """The engine process exited, or never became healthy, during start."""


class EngineUnreachableError(EngineError):
    """An engine URL given by the user does not answer."""

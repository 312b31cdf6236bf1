"""The encoder pool's errors, importable without Ray, numpy or the encoders."""

from __future__ import annotations


class RayMissing(ImportError):
    """Ray is not installed here."""


class PoolError(RuntimeError):
    """The pool could not do its work: no cluster at the address, no room for the
    workers, models that would not load, or a worker that kept dying."""

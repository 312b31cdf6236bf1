"""Where one query's time goes: a per-stage wall clock for the query path.

Code on the path marks its stages (``with stage("tokenize"): ...``) or notes a
time measured elsewhere (``note("engine took", ms)``, the engine's own figure).
Nothing is recorded unless a caller opened :func:`measure` in the same context
(a :class:`~contextvars.ContextVar`, so concurrent requests never mix), and an
unobserved mark costs one context-variable lookup. ``benchmarks/queries.py
--breakdown`` reads the stages of each query this way.

Stages do not nest: each mark covers work no other mark covers, so their sum,
less the noted figures, is the part of a query's wall time that is accounted for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CLOCK: ContextVar[dict[str, float] | None] = ContextVar("tandem_stages", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the wall time of the ``with`` body to stage ``name`` (milliseconds)."""
    clock = _CLOCK.get()
    if clock is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        clock[name] = clock.get(name, 0.0) + 1000.0 * (time.perf_counter() - started)


def note(name: str, ms: float) -> None:
    """Record a figure measured elsewhere (the engine's ``took``), not part of the sum."""
    clock = _CLOCK.get()
    if clock is not None:
        clock[name] = clock.get(name, 0.0) + ms


@contextmanager
def measure() -> Iterator[dict[str, float]]:
    """Collect the stages of the code run inside: ``{stage: milliseconds}``."""
    clock: dict[str, float] = {}
    token = _CLOCK.set(clock)
    try:
        yield clock
    finally:
        _CLOCK.reset(token)

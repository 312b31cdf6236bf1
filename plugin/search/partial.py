"""Partial results: what happens when the engine answers from only some of its data.

Both engines answer HTTP 200 when some shards failed or the search ran past its
``timeout`` (their ``allow_partial_search_results`` defaults to true), with
``_shards.failed`` and ``timed_out`` saying so. Tandem always reports it (the
Search response's ``partial`` fields, a metric, a log line); the operator's
``--partial-results`` decides whether such an answer is served (``allow``, the
default) or refused with :class:`PartialResultsError` (``fail``).
"""

from __future__ import annotations

from typing import Literal, get_args

from tandem.plugin.engines.base import Completeness
from tandem.plugin.engines.errors import EngineServerError

PartialResults = Literal["allow", "fail"]
PARTIAL_RESULTS: tuple[PartialResults, ...] = get_args(PartialResults)


def check_partial_results(value: str) -> PartialResults:
    """``value`` as a :data:`PartialResults` policy; ``ValueError`` for anything else."""
    for policy in PARTIAL_RESULTS:
        if value == policy:
            return policy
    raise ValueError(f"partial_results must be allow or fail, got {value!r}")


def summary(completeness: Completeness) -> str:
    """``"the engine timed out; 2 shard failures: a; b"``, for messages and logs."""
    parts = []
    if completeness.timed_out:
        parts.append("the engine timed out")
    failures = completeness.shard_failures
    if failures:
        noun = "shard failure" if len(failures) == 1 else "shard failures"
        parts.append(f"{len(failures)} {noun}: " + "; ".join(failures))
    return "; ".join(parts)


class PartialResultsError(EngineServerError):
    """The engine answered from part of the data and the operator refuses partial answers.

    A server error (UNAVAILABLE over gRPC): shard failures and timeouts are
    usually passing (a node restarting, a relocating shard, an overloaded
    cluster), so a client may retry.
    """

    def __init__(self, index: str, completeness: Completeness) -> None:
        super().__init__(
            f"partial results from {index} refused ({summary(completeness)}); "
            "the sidecar runs with --partial-results fail: fix the failing shards, or "
            "serve partial answers with --partial-results allow"
        )
        self.completeness = completeness

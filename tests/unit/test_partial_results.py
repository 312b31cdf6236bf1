"""Partial results: the operator's setting, the status code, the metric and the CLI's note."""

from __future__ import annotations

import argparse

import grpc
import pytest

from tandem.plugin.cli.search import partial_note
from tandem.plugin.engines.base import Completeness
from tandem.plugin.search.partial import PartialResultsError
from tandem.plugin.server.errors import status_for
from tandem.plugin.server.metrics import Metrics
from tandem.plugin.server.settings import Settings, add_arguments, from_namespace


def parse(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_namespace(parser.parse_args(argv), env or {})


def test_the_setting_defaults_to_allow_and_takes_a_flag_or_the_environment() -> None:
    assert parse([]).partial_results == "allow"
    assert parse(["--partial-results", "fail"]).partial_results == "fail"
    assert parse([], {"TANDEM_PARTIAL_RESULTS": "fail"}).partial_results == "fail"
    with pytest.raises(ValueError, match="partial_results must be allow or fail"):
        Settings(partial_results="sometimes")


def test_refused_partial_results_are_unavailable() -> None:
    err = PartialResultsError("idx", Completeness(True, ("bm25: a shard 0: boom",)))
    assert status_for(err) is grpc.StatusCode.UNAVAILABLE
    assert "timed out" in str(err) and "bm25: a shard 0: boom" in str(err)


def test_the_metric_counts_each_cause() -> None:
    metrics = Metrics()
    metrics.partial(Completeness(True, ()))
    metrics.partial(Completeness(True, ("x",)))
    metrics.partial(Completeness(False, ("x", "y")))

    def value(cause: str) -> float | None:
        return metrics.registry.get_sample_value("tandem_partial_results_total", {"cause": cause})

    assert (value("timed_out"), value("shard_failures")) == (2.0, 2.0)


def test_the_cli_notes_partial_results() -> None:
    assert partial_note(False, ()) is None
    assert partial_note(True, ()) == "partial results: the engine timed out"
    note = partial_note(False, ("bm25: a shard 0: boom", "dense: a shard 0: boom"))
    assert note == (
        "partial results: 2 shard failures\n  bm25: a shard 0: boom\n  dense: a shard 0: boom"
    )

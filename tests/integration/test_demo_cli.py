"""``tandem demo --query`` end to end on OpenSearch, as the README's main command runs it."""

from __future__ import annotations

from tandem.integration.handle import EngineHandle

from .cli import tandem


def test_demo_answers_a_query_and_reuses_its_index(opensearch_engine: EngineHandle) -> None:
    args = ("demo", "--engine", opensearch_engine.url, "--docs", "300")
    first = tandem(*args, "--query", "parse a JSON document into Python objects")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "query: parse a JSON document into Python objects"
    for column in ("BM25", "DENSE", "SPARSE", "FUSED"):
        assert column in lines[1]
    assert "1. " in first.stdout and "5. " in first.stdout
    assert "standard library" in first.stderr
    again = tandem(*args, "--query", "compress data with gzip")
    assert again.returncode == 0, again.stderr
    assert "already holds the 300 docstrings" in again.stderr


def test_demo_refuses_an_empty_query() -> None:
    done = tandem("demo", "--engine", "http://127.0.0.1:1", "--query", " ")
    assert done.returncode == 2


def test_demo_without_an_engine_goes_through_the_launcher() -> None:
    done = tandem("demo", "--docs", "300", "--query", "sort a list in place")
    assert done.returncode == 0, done.stderr
    assert "no engine given" in done.stderr
    assert "OpenSearch" in done.stderr  # started, or found already running, by the launcher
    assert "FUSED" in done.stdout

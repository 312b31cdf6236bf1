"""The pure parts of ``tandem search``: flag-named errors, filters, text fields, snippets,
scores and the JSON envelope (the command itself: tests/integration/test_search_cli.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tandem.plugin.cli.search_input import filters, in_flag_terms
from tandem.plugin.cli.search_output import Page, Timings, envelope, lines, score
from tandem.plugin.cli.snippets import snippet
from tandem.plugin.cli.text_fields import parse_text_fields
from tandem.plugin.search.hits import FusedHit, Source
from tandem.plugin.search.options import SearchOptions


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"size": 200, "window": 100},
            "--window (100) must cover --from + --size (200)",
        ),
        ({"start": -1}, "--from must be >= 0 and --size >= 1"),
        ({"size": 0}, "--from must be >= 0 and --size >= 1"),
        ({"start": 9995, "size": 10, "window": 10000}, "--from + --size is 10005; at most 10000"),
        ({"window": 20000}, "--window is 20000; engines return at most 10000 candidates"),
        (
            {"mode": "native", "explain": True},
            "--explain needs each retriever's rank and score, which only sidecar fusion keeps: "
            "use --mode sidecar (or auto, which picks it for --explain)",
        ),
    ],
)
def test_option_errors_read_as_the_flags(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        SearchOptions(**options)  # type: ignore[arg-type]
    assert in_flag_terms(str(caught.value)).startswith(message)


def test_flag_terms_leave_dotted_paths_and_flags_alone() -> None:
    assert (
        in_flag_terms("query.bool.window: --window is bad") == "query.bool.window: --window is bad"
    )
    assert in_flag_terms("sizes and windows") == "sizes and windows"


def test_filters_are_json_objects_numbered_from_one() -> None:
    assert filters(['{"term": {"lang": "en"}}']) == ({"term": {"lang": "en"}},)
    with pytest.raises(ValueError, match=r"--filter #2 is not valid JSON"):
        filters(['{"ids": {"values": ["a"]}}', "{nope"])
    for bad in ("{}", "[1]", '"text"'):
        with pytest.raises(ValueError, match=r"--filter #1 must be a non-empty JSON object"):
            filters([bad])


def test_text_fields_take_boosts_only_for_search() -> None:
    assert parse_text_fields(" title^2, body ,", boosts=True) == ("title^2", "body")
    with pytest.raises(ValueError, match="a boost only means something to search"):
        parse_text_fields("title^2", boosts=False)
    with pytest.raises(ValueError, match="--text-fields names no field"):
        parse_text_fields(" , ", boosts=True)


def test_a_snippet_is_the_title_or_the_start_of_the_text() -> None:
    source = {"title": "Solar", "text": "Panels turn light into power."}
    assert snippet(source, ("text", "title^2")) == "Solar"
    assert snippet({"title": "", "text": "Panels"}, ("title", "text")) == "Panels"
    long = "word " * 40
    cut = snippet({"body": long}, ("body",))
    assert cut is not None and len(cut) == 80 and cut.endswith("…")
    assert snippet({"meta": {"title": "Nested"}}, ("meta.title",)) == "Nested"
    assert snippet({"body": "a\n  b"}, ("body",)) == "a b"
    assert snippet({}, ("body",)) is None


def test_scores_are_float32_whichever_side_fused_them() -> None:
    sidecar = 1 / 61 + 1 / 62  # float64, as sidecar fusion computes it
    native = float(np.float32(sidecar))  # what the engine sends for the same sum
    assert score(sidecar) == score(native) == 0.032522473
    assert score(score(sidecar)) == score(sidecar)


def _page(**changes: object) -> Page:
    hit = FusedHit("d1", 1 / 61, {"bm25": Source(1, 12.3456789)})
    fields: dict[str, object] = {
        "index": "idx",
        "query": "q",
        "method": "rrf",
        "mode": "sidecar",
        "start": 10,
        "hits": [hit],
        "timings": Timings(1.23456, 2.0, 3.5),
        "snippets": {"d1": "Title"},
    }
    fields.update(changes)
    return Page(**fields)  # type: ignore[arg-type]


def test_the_envelope_has_one_shape() -> None:
    out = envelope(_page(), explain=True)
    assert out == {
        "index": "idx",
        "query": "q",
        "method": "rrf",
        "mode": "sidecar",
        "server": None,
        "partial": False,
        "timed_out": False,
        "shard_failures": [],
        "timings": {"encode_ms": 1.235, "engine_ms": 2.0, "total_ms": 3.5},
        "hits": [
            {
                "rank": 11,
                "id": "d1",
                "score": 0.016393442,
                "retrievers": {"bm25": {"rank": 1, "score": 12.345679}},
                "snippet": "Title",
            }
        ],
    }
    quiet = envelope(_page(server="h:1", shard_failures=("x",), snippets={}), explain=False)
    assert quiet["hits"][0]["retrievers"] == {} and quiet["hits"][0]["snippet"] is None
    assert quiet["partial"] is True and quiet["server"] == "h:1"


def test_lines_show_the_snippet_and_explain_below() -> None:
    assert lines(_page(), explain=False) == ["  11     0.01639  d1  Title"]
    assert lines(_page(), explain=True)[1].strip() == "[bm25 #1 (12.35)]"

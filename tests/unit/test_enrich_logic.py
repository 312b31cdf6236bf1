"""The pure parts of enrich: markers, passages, checkpoints, and what a plan copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.plugin.enrich.checkpoint import Checkpoint
from tandem.plugin.enrich.marker import Marker, models_id, text_hash
from tandem.plugin.enrich.plan import EnrichRefused, EnrichRequest, _copy_settings
from tandem.plugin.enrich.texts import BadText, passage


def test_a_marker_is_current_only_for_the_same_text_and_models() -> None:
    models = models_id("minilm", "splade-tiny")
    assert models == "dense=minilm;sparse=splade-tiny"
    marker = Marker.now(text_hash("a\nb"), models)
    assert marker.current(text_hash("a\nb"), models)
    assert not marker.current(text_hash("a\nc"), models)  # an edited text
    assert not marker.current(text_hash("a\nb"), models_id("minilm", None))  # a model change
    assert Marker.read(marker.as_source()) == Marker(marker.hash, models, round(marker.at, 3))


@pytest.mark.parametrize("stored", [None, "x", {"hash": 1, "models": "m"}, {"hash": "h"}])
def test_a_missing_or_malformed_marker_reads_as_none(stored: object) -> None:
    assert Marker.read(stored) is None


def test_models_id_leaves_out_a_missing_model() -> None:
    assert models_id(None, "splade-tiny") == "sparse=splade-tiny"


def test_a_passage_joins_the_fields_in_order_with_dotted_paths_and_lists() -> None:
    source = {"title": "T", "body": ["one", None, "two"], "meta": {"abstract": "A"}}
    found = passage(source, ("title", "meta.abstract", "body"), " | ")
    assert found.text == "T | A | one | two"
    assert passage({"title": "  "}, ("title", "body"), "\n").empty


@pytest.mark.parametrize("value", [5, {"a": "b"}, ["x", 3]])
def test_a_text_field_holding_a_non_string_is_named(value: object) -> None:
    with pytest.raises(BadText, match="'title'"):
        passage({"title": value}, ("title",), "\n")


def test_a_checkpoint_round_trips_and_clears(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "deep" / "run.json")
    assert checkpoint.load() is None
    checkpoint.save({"state": {"phase": "backfill"}})
    assert checkpoint.load() == {"version": 1, "state": {"phase": "backfill"}}
    checkpoint.clear()
    assert checkpoint.load() is None


def test_a_corrupt_checkpoint_says_how_to_start_over(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="delete it to start over"):
        Checkpoint(path).load()


def test_a_copy_keeps_the_users_settings_but_not_the_engines() -> None:
    settings = {
        "number_of_shards": "2",
        "analysis": {"analyzer": {"en": {"type": "standard"}}},
        "uuid": "u",
        "creation_date": "1",
        "provided_name": "docs",
        "version": {"created": "1"},
        "blocks": {"write": "false"},
    }
    assert _copy_settings(settings) == {
        "number_of_shards": "2",
        "analysis": {"analyzer": {"en": {"type": "standard"}}},
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_fields": ()}, "at least one text field"),
        ({"dense_dims": None, "sparse": False}, "dense or a sparse model"),
        ({"sparse_field": "embedding"}, "distinct names"),
        ({"text_fields": ("embedding",)}, "both a text field"),
    ],
)
def test_requests_that_cannot_work_are_refused_when_built(
    kwargs: dict[str, object], message: str
) -> None:
    base: dict[str, object] = {
        "index": "docs",
        "text_fields": ("title",),
        "dense_dims": 384,
        "sparse": True,
    }
    with pytest.raises(EnrichRefused, match=message):
        EnrichRequest(**{**base, **kwargs})  # type: ignore[arg-type]

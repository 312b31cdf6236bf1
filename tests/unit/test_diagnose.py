"""A missing or mistyped field, read from a mapping, named with what to do."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tandem.plugin.search.diagnose import (
    MissingField,
    engine_reason,
    field_type,
    fields_of_type,
    problem,
)
from tandem.plugin.server.errors import status_for

MAPPINGS: dict[str, Any] = {
    "properties": {
        "body": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "meta": {"properties": {"title": {"type": "text"}}},
        "vec": {"type": "knn_vector", "dimension": 3},
        "terms": {"type": "rank_features"},
        "flat.name": {"type": "keyword"},
    },
    "runtime": {"day": {"type": "keyword"}},
}
CLI = {
    "dense_field": "--dense-field",
    "sparse_field": "--sparse-field",
    "fields": "--text-fields",
    "method": "--method",
}


def check(retriever: str, fields: tuple[str, ...] = ("title", "text")) -> MissingField | None:
    return problem(MAPPINGS, "idx", retriever, fields, "embedding", "sparse")


def test_field_type_reads_objects_multi_fields_dotted_names_and_runtime_fields() -> None:
    assert field_type(MAPPINGS, "body") == "text"
    assert field_type(MAPPINGS, "body.raw") == "keyword"
    assert field_type(MAPPINGS, "meta") == "object"
    assert field_type(MAPPINGS, "meta.title") == "text"
    assert field_type(MAPPINGS, "flat.name") == "keyword"
    assert field_type(MAPPINGS, "day") == "keyword"
    assert field_type(MAPPINGS, "title") is None
    assert field_type(MAPPINGS, "meta.missing") is None
    assert field_type({}, "body") is None
    assert fields_of_type(MAPPINGS, ("text",)) == ["body", "meta.title"]


def test_a_missing_dense_field_is_named_with_the_fields_the_index_has() -> None:
    err = check("dense")
    assert err is not None
    assert str(err) == (
        "index 'idx' has no field 'embedding' for the dense retriever (its vector fields: 'vec'): "
        "name the field that holds its vectors with dense_field, or search with method bm25"
    )
    assert err.message(CLI).endswith("with --dense-field, or search with --method bm25")


def test_a_field_of_the_wrong_type_says_what_it_is() -> None:
    found = problem(MAPPINGS, "idx", "dense", (), "body", "sparse")
    assert found is not None
    assert "maps 'body' as text, not as knn_vector or dense_vector," in str(found)
    sparse = problem(MAPPINGS, "idx", "sparse", (), "vec", "vec")
    assert sparse is not None and "maps 'vec' as knn_vector" in str(sparse)
    assert "(its sparse fields: 'terms')" in str(sparse)


def test_bm25_needs_one_of_its_fields() -> None:
    err = check("bm25")
    assert err is not None
    assert str(err).startswith(
        "index 'idx' has none of the text fields 'title', 'text' for the bm25 retriever "
        "(its text fields: 'body', 'meta.title'): name the fields that hold its text with fields"
    )
    assert check("bm25", ("title", "body^2")) is None  # one is enough; boosts are not names
    assert check("bm25", ("tit*",)) is None  # a wildcard is the engine's to expand
    assert check("bm25", ("meta.title",)) is None


def test_fields_that_are_there_are_no_problem() -> None:
    assert problem(MAPPINGS, "idx", "dense", (), "vec", "terms") is None
    assert problem(MAPPINGS, "idx", "sparse", (), "vec", "terms") is None


def test_an_index_without_any_such_field_says_so() -> None:
    err = problem({"properties": {}}, "idx", "sparse", (), "embedding", "sparse")
    assert err is not None and "(it has no sparse fields)" in str(err)


@pytest.mark.parametrize("retriever", ["bm25", "dense", "sparse"])
def test_a_message_from_a_sidecar_rewords_to_the_cli_flags(retriever: str) -> None:
    err = check(retriever)
    assert err is not None
    assert MissingField.reword(str(err), CLI) == err.message(CLI)
    assert MissingField.reword("index 'x' not found", CLI) is None
    assert MissingField.reword("FAILED_PRECONDITION: Elasticsearch has no licence", CLI) is None


def test_a_missing_field_is_failed_precondition() -> None:
    err = check("dense")
    assert err is not None
    assert status_for(err) is grpc.StatusCode.FAILED_PRECONDITION


def test_engine_reason_adds_the_root_cause() -> None:
    error = {
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "root_cause": [{"type": "query_shard_exception", "reason": "Field 'x' is not knn_vector"}],
    }
    assert engine_reason(error) == "all shards failed (Field 'x' is not knn_vector)"
    assert engine_reason({"reason": "boom", "root_cause": [{"reason": "boom"}]}) == "boom"
    assert engine_reason("text") == "text"

"""The ML Commons bodies ``tandem connect opensearch`` sends."""

from __future__ import annotations

import json

import pytest

from tandem.plugin.engines.ml_commons import (
    ROLES,
    Target,
    connector_body,
    ingest_pipeline_body,
    model_name,
    search_pipeline_body,
)

pytestmark = pytest.mark.unit
MODELS = {role: f"id-{role}" for role in ROLES}


@pytest.mark.parametrize("role", ROLES)
def test_each_connector_calls_the_right_route_with_a_json_body(role: str) -> None:
    body = connector_body(Target("http://127.0.0.1:8080/", None, 64), role)
    action = body["actions"][0]
    dense = role.startswith("dense")
    assert action["url"] == f"http://127.0.0.1:8080/{'embed' if dense else 'embed_sparse'}"
    # ML Commons puts a JSON array of the texts where the placeholder is.
    sent = json.loads(action["request_body"].replace("${parameters.input}", '["a", "b"]'))
    assert sent["inputs"] == ["a", "b"]
    assert sent["input_type"] == role.split("_")[1]
    assert sent.get("format") == (None if dense else "tokens")
    assert ("post_process_function" in action) is dense  # sparse maps need none
    assert "Authorization" not in action["headers"]
    assert body["parameters"]["input_docs_processed_step_size"] == "64"
    assert body["name"] == model_name(role) and body["credential"]


def test_a_token_goes_in_the_encrypted_credential_not_the_header() -> None:
    body = connector_body(Target("https://tandem:8080", "s3cret", 256), "dense_query")
    assert body["credential"] == {"token": "s3cret"}
    assert body["actions"][0]["headers"]["Authorization"] == "Bearer ${credential.token}"
    assert "s3cret" not in json.dumps(body["actions"])


def test_the_pipelines_use_document_models_to_write_and_query_models_to_search() -> None:
    ingest = ingest_pipeline_body(MODELS, "text", "embedding", "sparse")
    dense, sparse = ingest["processors"]
    assert dense["text_embedding"]["model_id"] == "id-dense_document"
    assert dense["text_embedding"]["field_map"] == {"text": "embedding"}
    assert sparse["sparse_encoding"]["model_id"] == "id-sparse_document"
    enricher = search_pipeline_body(MODELS, "embedding", "sparse")["request_processors"][0]
    assert enricher["neural_query_enricher"]["neural_field_default_id"] == {
        "embedding": "id-dense_query",
        "sparse": "id-sparse_query",
    }

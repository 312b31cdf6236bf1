"""The Haystack component against a real sidecar and engine: its documents are Tandem's
own hits, through ``run``, ``run_async``, a saved and loaded component, and a pipeline
with a ``PromptBuilder``."""

from __future__ import annotations

import asyncio
import json

import pytest
from haystack import Document, Pipeline, component
from haystack.components.builders import PromptBuilder
from haystack.utils import Secret

from tandem.client import TandemClient
from tandem.frameworks import Sidecar
from tandem.frameworks.common import Passage
from tandem.frameworks.haystack import TandemRetriever
from tandem.plugin.server.embedded import EmbeddedSidecar

from .retriever_cases import CASE_IDS, CASES, QUERY, Case, assert_alike, assert_same

TEMPLATE = """Context:
{% for document in documents %}{{ document.content }}
{% endfor %}
Question: {{ question }}"""


def _passages(documents: list[Document]) -> list[Passage]:
    return [Passage(d.id, d.content or "", d.score or 0.0, d.meta) for d in documents]


def _retriever(case: Case, index: str, sidecar: EmbeddedSidecar) -> TandemRetriever:
    return TandemRetriever(case.retrieval(index), Sidecar(address=sidecar.address))


@component
class EchoGenerator:
    """A generator that answers with the prompt it was given (no LLM)."""

    @component.output_types(replies=list[str])
    def run(self, prompt: str) -> dict[str, list[str]]:
        return {"replies": [prompt]}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_run_and_run_async_return_tandems_hits(
    case: Case,
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
) -> None:
    retriever = _retriever(case, scifact_sidecar_index, engine_sidecar)
    expected = case.expected(engine_sidecar_client, scifact_sidecar_index)
    found = retriever.run(QUERY)["documents"]
    assert_same(_passages(found), expected, scifact_sidecar_index, case.explained)
    again = asyncio.run(retriever.run_async(QUERY))["documents"]
    assert_alike(_passages(again), _passages(found))


def test_the_component_saves_and_loads_without_its_token(
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANDEM_TEST_TOKEN", "s3cret-value")
    case = CASES[1]
    retriever = TandemRetriever(
        case.retrieval(scifact_sidecar_index),
        Sidecar(address=engine_sidecar.address),
        token=Secret.from_env_var("TANDEM_TEST_TOKEN"),
    )
    saved = retriever.to_dict()
    assert "s3cret-value" not in json.dumps(saved)
    assert saved["init_parameters"]["token"]["env_vars"] == ["TANDEM_TEST_TOKEN"]
    loaded = TandemRetriever.from_dict(json.loads(json.dumps(saved)))
    assert loaded.to_dict() == saved
    expected = case.expected(engine_sidecar_client, scifact_sidecar_index)
    # The sidecar runs without auth and ignores the token the loaded component sends.
    assert_same(_passages(loaded.run(QUERY)["documents"]), expected, scifact_sidecar_index)


def test_a_pipeline_builds_the_prompt_from_the_retrieved_documents(
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
) -> None:
    case = CASES[0]
    pipeline = Pipeline()
    pipeline.add_component("retriever", _retriever(case, scifact_sidecar_index, engine_sidecar))
    pipeline.add_component("prompt", PromptBuilder(template=TEMPLATE))
    pipeline.add_component("llm", EchoGenerator())
    pipeline.connect("retriever.documents", "prompt.documents")
    pipeline.connect("prompt.prompt", "llm.prompt")
    # Through Haystack's own YAML; Haystack loads classes from the modules it is told to trust.
    loaded = Pipeline.loads(pipeline.dumps(), allowed_modules=["tandem.frameworks", __name__])
    expected = case.expected(engine_sidecar_client, scifact_sidecar_index, size=3)
    for each in (pipeline, loaded):
        result = each.run(
            {"retriever": {"query": QUERY, "top_k": 3}, "prompt": {"question": QUERY}},
            include_outputs_from={"retriever"},
        )
        documents = result["retriever"]["documents"]
        assert_same(_passages(documents), expected, scifact_sidecar_index)
        (prompt,) = result["llm"]["replies"]
        assert all(d.content in prompt for d in documents) and prompt.endswith(QUERY)

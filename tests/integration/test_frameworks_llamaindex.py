"""The LlamaIndex retriever against a real sidecar and engine: its nodes are Tandem's own
hits, through ``retrieve``, ``aretrieve`` and a ``RetrieverQueryEngine``."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore

from tandem.client import TandemClient
from tandem.frameworks import Sidecar
from tandem.frameworks.common import Passage
from tandem.frameworks.llamaindex import TandemRetriever
from tandem.plugin.server.embedded import EmbeddedSidecar

from .retriever_cases import CASE_IDS, CASES, QUERY, Case, assert_alike, assert_same


def _passages(nodes: list[NodeWithScore]) -> list[Passage]:
    return [Passage(n.node.node_id, n.node.get_content(), n.score, n.node.metadata) for n in nodes]


def _retriever(case: Case, index: str, sidecar: EmbeddedSidecar) -> TandemRetriever:
    return TandemRetriever(case.retrieval(index), Sidecar(address=sidecar.address))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_retrieve_and_aretrieve_return_tandems_hits(
    case: Case,
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
) -> None:
    retriever = _retriever(case, scifact_sidecar_index, engine_sidecar)
    expected = case.expected(engine_sidecar_client, scifact_sidecar_index)
    found = retriever.retrieve(QUERY)
    assert_same(_passages(found), expected, scifact_sidecar_index, case.explained)
    assert_alike(_passages(asyncio.run(retriever.aretrieve(QUERY))), _passages(found))


def test_a_query_engine_answers_from_the_retrieved_nodes(
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
) -> None:
    case = CASES[-1]  # the user's own query with a tandem clause
    retriever = _retriever(case, scifact_sidecar_index, engine_sidecar)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = engine.query(QUERY)
    expected = case.expected(engine_sidecar_client, scifact_sidecar_index)
    assert_same(_passages(response.source_nodes), expected, scifact_sidecar_index)
    assert response.response  # MockLLM's answer: it echoes part of the prompt
    # What the LLM sees: the text and the stored year, not Tandem's scores.
    shown = response.source_nodes[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "year: " in shown and "retrievers" not in shown

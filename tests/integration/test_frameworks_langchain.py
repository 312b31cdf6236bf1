"""The LangChain retriever against a real sidecar and engine: its documents are Tandem's
own hits, through ``invoke``, ``batch``, ``ainvoke`` and an LCEL chain."""

from __future__ import annotations

import asyncio
import socket

import pytest
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableParallel, RunnablePassthrough

from tandem.client import ClientError, TandemClient
from tandem.frameworks import Retrieval, Sidecar
from tandem.frameworks.common import Passage
from tandem.frameworks.langchain import TandemRetriever
from tandem.plugin.server.embedded import EmbeddedSidecar

from .retriever_cases import CASE_IDS, CASES, QUERY, Case, assert_alike, assert_same


def _passages(documents: list[Document]) -> list[Passage]:
    return [Passage(str(d.id), d.page_content, d.metadata["score"], d.metadata) for d in documents]


def _retriever(case: Case, index: str, sidecar: EmbeddedSidecar) -> TandemRetriever:
    return TandemRetriever(
        retrieval=case.retrieval(index), sidecar=Sidecar(address=sidecar.address)
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_invoke_and_ainvoke_return_tandems_hits(
    case: Case,
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
) -> None:
    retriever = _retriever(case, scifact_sidecar_index, engine_sidecar)
    expected = case.expected(engine_sidecar_client, scifact_sidecar_index)
    found = retriever.invoke(QUERY)
    assert_same(_passages(found), expected, scifact_sidecar_index, case.explained)
    assert_alike(_passages(asyncio.run(retriever.ainvoke(QUERY))), _passages(found))


def test_batch_answers_each_query(
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
) -> None:
    case = CASES[0]
    retriever = _retriever(case, scifact_sidecar_index, engine_sidecar)
    queries = [QUERY, "microstructure of white matter in newborns"]
    for query, found in zip(queries, retriever.batch(queries), strict=True):
        expected = case.expected(engine_sidecar_client, scifact_sidecar_index, query)
        assert_same(_passages(found), expected, scifact_sidecar_index)


def test_an_lcel_chain_answers_from_the_retrieved_documents(
    scifact_sidecar_index: str,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
) -> None:
    case = CASES[1]
    retriever = _retriever(case, scifact_sidecar_index, engine_sidecar)
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    answer = "Vitamin D lowers the risk."
    chain = (
        RunnableParallel(documents=retriever, question=RunnablePassthrough())
        .assign(context=lambda x: "\n\n".join(d.page_content for d in x["documents"]))
        .assign(answer=prompt | FakeListChatModel(responses=[answer]) | StrOutputParser())
    )
    result = chain.invoke(QUERY)
    assert result["answer"] == answer
    expected = case.expected(engine_sidecar_client, scifact_sidecar_index)
    assert_same(_passages(result["documents"]), expected, scifact_sidecar_index)
    assert result["context"].startswith(result["documents"][0].page_content)


def test_an_unreachable_sidecar_says_what_to_do() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    retriever = TandemRetriever(retrieval=Retrieval("idx"), sidecar=Sidecar(address, timeout=5))
    for attempt in (lambda: retriever.invoke(QUERY), lambda: asyncio.run(retriever.ainvoke(QUERY))):
        with pytest.raises(
            ClientError, match=f"no Tandem sidecar answers at {address}.*tandem serve"
        ):
            attempt()

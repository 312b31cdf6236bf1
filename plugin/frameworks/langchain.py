"""A LangChain retriever over a Tandem sidecar (``pip install 'tandem-search[langchain]'``).

>>> from tandem.frameworks.langchain import TandemRetriever
>>> from tandem.frameworks import Retrieval
>>> retriever = TandemRetriever(retrieval=Retrieval("scifact"))
>>> documents = retriever.invoke("vitamin d and infections")

``invoke``, ``batch`` and ``ainvoke`` work as on any retriever; ``ainvoke`` searches on
``grpc.aio``. Each ``Document`` has the hit's id, its content fields as
``page_content`` and Tandem's metadata (:mod:`tandem.frameworks.common`).
"""

from __future__ import annotations

from typing import Any

from .common import Passage, TandemSearch, missing_extra
from .settings import Retrieval, Sidecar

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import PrivateAttr, field_serializer
except ModuleNotFoundError as err:
    raise missing_extra("langchain", err) from err

__all__ = ["Retrieval", "Sidecar", "TandemRetriever"]


def document(found: Passage) -> Document:
    return Document(page_content=found.text, metadata=found.metadata, id=found.id)


class TandemRetriever(BaseRetriever):
    """Hybrid search in a Tandem sidecar as a LangChain retriever.

    ``retrieval`` says what to search (index, options, your DSL, which fields make the
    text and metadata), ``sidecar`` where the sidecar runs (default ``localhost:50051``).
    """

    retrieval: Retrieval
    sidecar: Sidecar = Sidecar()
    _search: TandemSearch = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._search = TandemSearch(self.retrieval, self.sidecar)

    @field_serializer("retrieval", "sidecar")
    def _plain(self, settings: Retrieval | Sidecar) -> dict[str, Any]:
        """``model_dump`` as plain JSON data, the sidecar's token left out."""
        return settings.to_dict()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [document(found) for found in self._search.search(query)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [document(found) for found in await self._search.asearch(query)]

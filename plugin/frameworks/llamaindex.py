"""A LlamaIndex retriever over a Tandem sidecar (``pip install 'tandem-search[llamaindex]'``).

>>> from tandem.frameworks.llamaindex import TandemRetriever
>>> from tandem.frameworks import Retrieval
>>> retriever = TandemRetriever(Retrieval("scifact"))
>>> nodes = retriever.retrieve("vitamin d and infections")

``retrieve`` and ``aretrieve`` (on ``grpc.aio``) return ``NodeWithScore`` values: a
``TextNode`` with the hit's id, its content fields as text and Tandem's metadata
(:mod:`tandem.frameworks.common`), scored with the fused score. Tandem's own keys are
kept out of what the LLM and embedders see; the metadata fields you asked for are not.
"""

from __future__ import annotations

from .common import Passage, TandemSearch, missing_extra
from .settings import RESERVED, Retrieval, Sidecar

try:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ModuleNotFoundError as err:
    raise missing_extra("llamaindex", err) from err

__all__ = ["Retrieval", "Sidecar", "TandemRetriever"]


def node(found: Passage) -> NodeWithScore:
    text = TextNode(
        id_=found.id,
        text=found.text,
        metadata=found.metadata,
        excluded_llm_metadata_keys=list(RESERVED),
        excluded_embed_metadata_keys=list(RESERVED),
    )
    return NodeWithScore(node=text, score=found.score)


class TandemRetriever(BaseRetriever):
    """Hybrid search in a Tandem sidecar as a LlamaIndex retriever.

    ``retrieval`` says what to search (index, options, your DSL, which fields make the
    text and metadata), ``sidecar`` where the sidecar runs (default ``localhost:50051``).
    """

    def __init__(
        self,
        retrieval: Retrieval,
        sidecar: Sidecar = Sidecar(),
        *,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self._search = TandemSearch(retrieval, sidecar)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [node(found) for found in self._search.search(query_bundle.query_str)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [node(found) for found in await self._search.asearch(query_bundle.query_str)]

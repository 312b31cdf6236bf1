"""A Haystack retriever component over a Tandem sidecar
(``pip install 'tandem-search[haystack]'``).

>>> from tandem.frameworks.haystack import TandemRetriever
>>> from tandem.frameworks import Retrieval
>>> retriever = TandemRetriever(Retrieval("scifact"))
>>> documents = retriever.run("vitamin d and infections")["documents"]

``run`` and ``run_async`` (on ``grpc.aio``, what ``AsyncPipeline`` calls) return
``{"documents": [...]}``: each ``Document`` has the hit's id, its content fields as
``content``, the fused score as ``score`` and Tandem's metadata as ``meta``
(:mod:`tandem.frameworks.common`). ``to_dict``/``from_dict`` save and load the component
with a pipeline; the bearer token is a ``Secret`` (by default the ``TANDEM_TOKEN``
variable, if set), serialized as the variable's name, never its value.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .common import Passage, TandemSearch, missing_extra
from .settings import Retrieval, Sidecar

try:
    from haystack import Document, component, default_from_dict, default_to_dict
    from haystack.utils import Secret, deserialize_secrets_inplace
except ModuleNotFoundError as err:
    raise missing_extra("haystack", err) from err

__all__ = ["Retrieval", "Sidecar", "TandemRetriever"]

# The variable `tandem` reads the token from too; unset, no token is sent.
DEFAULT_TOKEN = Secret.from_env_var("TANDEM_TOKEN", strict=False)


def document(found: Passage) -> Document:
    return Document(id=found.id, content=found.text, meta=found.metadata, score=found.score)


@component
class TandemRetriever:
    """Hybrid search in a Tandem sidecar as a Haystack component.

    ``retrieval`` says what to search (index, options, your DSL, which fields make the
    text and metadata), ``sidecar`` where the sidecar runs (default ``localhost:50051``)
    and ``token`` the bearer token it wants, as a ``Secret``.
    """

    def __init__(
        self,
        retrieval: Retrieval,
        sidecar: Sidecar = Sidecar(),
        token: Secret | None = DEFAULT_TOKEN,
    ) -> None:
        if sidecar.token is not None:
            raise ValueError(
                "pass the token as token=Secret.from_env_var(NAME), not in Sidecar: a "
                "Secret is saved with the pipeline by its variable's name, never in clear"
            )
        self.retrieval = retrieval
        self.sidecar = sidecar
        self.token = token
        value = token.resolve_value() if token is not None else None
        self._search = TandemSearch(retrieval, dataclasses.replace(sidecar, token=value))

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            retrieval=self.retrieval.to_dict(),
            sidecar=self.sidecar.to_dict(),
            token=self.token.to_dict() if self.token is not None else None,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TandemRetriever:
        parameters = data.get("init_parameters", {})
        deserialize_secrets_inplace(parameters, keys=["token"])
        if isinstance(parameters.get("retrieval"), dict):
            parameters["retrieval"] = Retrieval.from_dict(parameters["retrieval"])
        if isinstance(parameters.get("sidecar"), dict):
            parameters["sidecar"] = Sidecar.from_dict(parameters["sidecar"])
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(self, query: str, top_k: int | None = None) -> dict[str, list[Document]]:
        """The documents for ``query``: ``top_k`` of them, or the options' ``size``."""
        return {"documents": [document(p) for p in self._search.search(query, top_k)]}

    @component.output_types(documents=list[Document])
    async def run_async(self, query: str, top_k: int | None = None) -> dict[str, list[Document]]:
        """:meth:`run` on ``grpc.aio``."""
        return {"documents": [document(p) for p in await self._search.asearch(query, top_k)]}

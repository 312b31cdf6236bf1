"""Retrievers for LangChain, LlamaIndex and Haystack over a running Tandem sidecar.

Each framework has its module and its extra: :mod:`tandem.frameworks.langchain`
(``[langchain]``), :mod:`tandem.frameworks.llamaindex` (``[llamaindex]``) and
:mod:`tandem.frameworks.haystack` (``[haystack]``). All three take the same two settings,
re-exported here: a :class:`Retrieval` (what to search) and a :class:`Sidecar` (where the
sidecar runs). They talk to the sidecar with the light client (``tandem.client``), so
none of them needs the ``server`` extra. Importing this package loads no framework.
"""

from .settings import Retrieval, Sidecar

__all__ = ["Retrieval", "Sidecar"]

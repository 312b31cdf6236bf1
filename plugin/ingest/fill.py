"""Build an index once: reuse it while it holds the documents, else create and fill it.

Used by ``tandem eval``, ``tandem demo`` and the benchmarks, which all index a
fixed corpus into Tandem's default layout (:func:`~tandem.plugin.index.spec.default_spec`)
and should not pay for it twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.sparse import SpladeEncoder
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.index.spec import Passages, default_spec

from .assemble import Progress, build_ingestor, ensure_index
from .documents import Document
from .passages import Splitters
from .pipeline import FieldMap, IngestReport


def holds(adapter: EngineAdapter, name: str, count: int) -> bool:
    """Whether ``name`` exists with exactly ``count`` documents (then it can be reused)."""
    return adapter.index_exists(name) and adapter.count(name) == count


def fill_index(
    adapter: EngineAdapter,
    name: str,
    docs: Sequence[Document],
    dense: DenseEncoder,
    sparse: SpladeEncoder,
    progress: Progress | None = None,
    passages: Passages | None = None,
) -> IngestReport:
    """(Re)create ``name`` in the default layout (dense vectors per passage with
    ``passages``), index ``docs``, refresh; the report."""
    adapter.delete_index(name)
    dims = len(dense.encode(["dims"])[0])
    spec = default_spec(name, dims=dims, passages=passages)
    splitters = Splitters.for_index(dense, sparse, spec.passages)
    ensure_index(adapter, spec, dims)
    ingestor = build_ingestor(
        adapter,
        name,
        FieldMap.of(spec),
        dense,
        sparse,
        progress=progress,
        splitters=splitters,
    )
    report = ingestor.run(docs, total=len(docs))
    adapter.refresh(name)
    return report

"""One way to put an ingest together: the index's fields, the encoders, the bulk writer.

The server's ``IndexDocuments``, ``tandem index`` and the index-once helper
(:mod:`.fill`) all build their :class:`~.pipeline.Ingestor` here, and every index
Tandem creates is created by :func:`ensure_index`, marked as Tandem's in its
mapping with the names of its vector fields.
"""

from __future__ import annotations

from collections.abc import Callable

from tandem.encoders.sparse import Pruning
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.index.mapping import build_index_body
from tandem.plugin.index.spec import IndexSpec

from .bulk import BulkOptions, BulkWriter
from .passages import Splitters
from .pipeline import (
    DocumentDense,
    DocumentSparse,
    FieldMap,
    IngestOptions,
    Ingestor,
    ResultHook,
    SourceBuilder,
)
from .progress import Snapshot
from .vectors import ChunkEncoder

Progress = Callable[[Snapshot, bool], None]


def build_ingestor(
    adapter: EngineAdapter,
    index: str,
    fields: FieldMap,
    dense: DocumentDense | None,
    sparse: DocumentSparse | None,
    *,
    pruning: Pruning = Pruning(),
    bulk: BulkOptions = BulkOptions(),
    options: IngestOptions = IngestOptions(),
    progress: Progress | None = None,
    on_result: ResultHook | None = None,
    splitters: Splitters | None = None,
    pool: ChunkEncoder | None = None,
) -> Ingestor:
    """An ingestor that writes into ``index``, its vectors into ``fields`` (from the index's
    spec, :meth:`FieldMap.of`, or read from its mapping); ``splitters`` measure texts
    against each model's window and, for a passage index, split them; ``pool`` runs the
    models elsewhere (an encoder pool, :mod:`tandem.plugin.distributed`)."""
    return Ingestor(
        BulkWriter(adapter, index, bulk),
        SourceBuilder(fields, dense, sparse, pruning, splitters, pool),
        options,
        progress,
        on_result,
    )


def ensure_index(
    adapter: EngineAdapter, spec: IndexSpec, dims: int | None, model_name: str | None = None
) -> bool:
    """Create ``spec``'s index unless it exists; whether it was created."""
    if adapter.index_exists(spec.name):
        return False
    body = build_index_body(spec, adapter.capabilities, model_dims=dims, model_name=model_name)
    adapter.create_index(spec.name, body)
    return True

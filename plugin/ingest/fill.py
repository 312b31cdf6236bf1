"""Build an index once: reuse it while it holds the documents, else create and fill it.

Used by ``tandem eval``, ``tandem demo`` and the benchmarks, which all index a
fixed corpus into Tandem's default layout (text fields, ``embedding``,
``sparse``) and should not pay for it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.sparse import SpladeEncoder
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.index_spec import DenseField, IndexSpec, SparseField, TextField
from tandem.plugin.ingest.bulk import BulkOptions, BulkWriter
from tandem.plugin.ingest.documents import Document
from tandem.plugin.ingest.pipeline import (
    FieldMap,
    IngestOptions,
    Ingestor,
    IngestReport,
    SourceBuilder,
)
from tandem.plugin.ingest.progress import Snapshot
from tandem.plugin.mapping import build_index_body

Progress = Callable[[Snapshot, bool], None]


def default_spec(
    name: str, text_fields: tuple[str, ...], dims: int | None, sparse: bool
) -> IndexSpec:
    """The index Tandem creates when none exists: text, ``embedding`` and ``sparse``."""
    return IndexSpec(
        name=name,
        text_fields=tuple(TextField(f) for f in text_fields),
        dense=DenseField("embedding", dims) if dims else None,
        sparse=SparseField("sparse") if sparse else None,
    )


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
) -> IngestReport:
    """(Re)create ``name`` in the default layout, index ``docs``, refresh; the report."""
    adapter.delete_index(name)
    dims = len(dense.encode(["dims"])[0])
    spec = default_spec(name, ("title", "text"), dims, True)
    adapter.create_index(name, build_index_body(spec, adapter.capabilities, model_dims=dims))
    report = Ingestor(
        BulkWriter(adapter, name, BulkOptions()),
        SourceBuilder(FieldMap(), dense, sparse),
        IngestOptions(),
        progress,
    ).run(docs, total=len(docs))
    adapter.refresh(name)
    return report

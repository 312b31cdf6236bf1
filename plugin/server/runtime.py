"""What the servicers share: the served models, the engine link, limits and metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tandem.encoders.pooling import FloatArray
from tandem.encoders.sparse import SparseVector
from tandem.plugin.index.names import IndexPolicy
from tandem.plugin.search.layout import PassageLayouts
from tandem.plugin.search.partial import PartialResults
from tandem.plugin.search.policy import QueryPolicy
from tandem.plugin.search.shards import IndexSizes

from .batcher import BatcherOptions, Listener
from .encoding import DenseModel, Limits, SparseModel
from .engine import EngineLink
from .errors import ModelMissing
from .ingest_pool import IngestPool
from .metrics import Metrics
from .query_cache import QueryCache


@dataclass
class Runtime:
    dense: DenseModel | None
    sparse: SparseModel | None
    engine: EngineLink
    metrics: Metrics
    limits: Limits
    batching: BatcherOptions
    max_message_bytes: int
    # IndexDocuments' own threads (--max-ingest-streams), apart from the default executor.
    ingest: IngestPool
    policy: QueryPolicy = field(default_factory=QueryPolicy)
    indices: IndexPolicy = field(default_factory=IndexPolicy)
    allow_delete_any_index: bool = False
    # Set when the sidecar starts to stop: long streams end early, with what they did.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # The operator's --partial-results: allow or fail.
    partial_results: PartialResults = "allow"
    # Query vectors by model and text (--query-cache-entries, --query-cache-mb).
    query_cache: QueryCache[FloatArray | SparseVector] = field(
        default_factory=lambda: QueryCache(0, 0)
    )
    # Which indices hold passages, as searches learnt it (searchers are made per call).
    layouts: PassageLayouts = field(default_factory=PassageLayouts)
    sizes: IndexSizes = field(default_factory=IndexSizes)

    def require_dense(self) -> DenseModel:
        if self.dense is None:
            raise ModelMissing("this sidecar serves no dense model (started with --dense none)")
        return self.dense

    def require_sparse(self) -> SparseModel:
        if self.sparse is None:
            raise ModelMissing("this sidecar serves no sparse model (started with --sparse none)")
        return self.sparse

    def start(self, listener: Listener | None = None) -> None:
        """Start the batchers; ``listener`` is awaited when one stops or resumes serving."""
        for model in (self.dense, self.sparse):
            if model is not None:
                model.batcher.start(listener)

    @property
    def serving(self) -> bool:
        """Whether every model's batch loop runs (false while one restarts after a crash)."""
        return all(m.batcher.serving for m in (self.dense, self.sparse) if m is not None)

    async def close(self) -> None:
        for model in (self.dense, self.sparse):
            if model is not None:
                await model.batcher.close()
                model.executor.shutdown(wait=True)
        self.ingest.close()
        self.engine.close()

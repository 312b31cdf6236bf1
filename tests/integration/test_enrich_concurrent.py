"""Enrich while the application keeps writing: nothing lost, nothing stale.

A writer thread adds documents, edits texts partially and overwrites whole
documents through the application's alias, from before the backfill starts until
follow mode has taken over (for a reindex: across the copy, the catch-up and the
alias switch). At the end every document the application wrote is there, and
every stored marker's hash equals the hash of the document's current text.
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

import pytest

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.sparse import SpladeEncoder
from tandem.integration.clients import client_for
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.connect import connect
from tandem.plugin.enrich.marker import models_id
from tandem.plugin.enrich.plan import EnrichRequest, plan
from tandem.plugin.enrich.report import EnrichReport
from tandem.plugin.enrich.run import Enricher, EnrichOptions
from tandem.plugin.ingest.bulk import BulkOptions

from .user_index import bulk, create_user_index, refused_by_a_block, scifact_docs, stale, stored

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def encoders() -> tuple[DenseEncoder, SpladeEncoder]:
    return load_dense(KNOWN_MODELS["minilm"]), load_sparse(KNOWN_MODELS["splade-tiny"])


class Writer(threading.Thread):
    """The user's application: adds, edits and overwrites documents through ``alias``."""

    def __init__(self, engine: EngineHandle, alias: str, ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.client = client_for(engine)
        self.alias = alias
        self.ids = list(ids)
        self.fresh = iter(scifact_docs(400, offset=2000))
        self.halt = threading.Event()
        self.errors: list[str] = []
        self.counts = {"new": 0, "edit": 0, "overwrite": 0}
        self.rng = random.Random(7)
        self.refused = 0

    def run(self) -> None:
        while not self.halt.wait(0.08):
            try:
                self._one()
            except Exception as err:
                if refused_by_a_block(err):
                    # A reindex's switch write-blocks the source for a moment; the
                    # refusal is explicit, and the application goes on (a refused write
                    # is not in ``ids``).
                    self.refused += 1
                    continue
                self.errors.append(f"{type(err).__name__}: {err}")
                return

    def _one(self) -> None:
        kind = self.rng.choice(["new", "new", "edit", "overwrite"])
        if kind == "new":
            doc = next(self.fresh, None)
            if doc is None:
                return
            source = {k: v for k, v in doc.items() if k != "_id"}
            self.client.index(index=self.alias, id=doc["_id"], body=source)
            self.ids.append(doc["_id"])
        elif kind == "edit":
            doc_id = self.rng.choice(self.ids)
            text = f"edited {uuid.uuid4().hex} text of {doc_id}"
            # A partial update is a read and a write inside the engine; one racing enrich's
            # own update of the document is a 409 unless retried, as applications do.
            self.client.update(
                index=self.alias, id=doc_id, body={"doc": {"body": text}}, retry_on_conflict=5
            )
        else:
            doc_id = self.rng.choice(self.ids)
            body = {"title": f"overwritten {doc_id}", "body": uuid.uuid4().hex, "tag": "new"}
            self.client.index(index=self.alias, id=doc_id, body=body)
        self.counts[kind] += 1


@pytest.mark.newest_engines
@pytest.mark.parametrize("strategy", ["in-place", "reindex"])
def test_a_concurrent_writer_loses_nothing_and_leaves_nothing_stale(
    strategy: str,
    engine: EngineHandle,
    engine_client: Any,
    alias: str,
    encoders: tuple[DenseEncoder, SpladeEncoder],
) -> None:
    index = alias.removesuffix("-live")
    create_user_index(engine_client, engine, index, knn=strategy == "in-place", shards=3)
    docs = scifact_docs(160)
    bulk(engine_client, engine, index, docs)
    engine_client.indices.put_alias(index=index, name=alias)
    adapter = connect(engine.url)
    request = EnrichRequest(alias, ("title", "body"), 384, True, strategy=strategy)  # type: ignore[arg-type]
    the_plan = plan(adapter, request)
    assert the_plan.strategy == strategy
    writer = Writer(engine, alias, [d["_id"] for d in docs])
    stop = threading.Event()
    halted_at: list[int] = []

    def progress(report: EnrichReport, final: bool) -> None:
        if report.phase != "follow":
            return
        if not halted_at:
            writer.halt.set()  # the application stops once follow mode has taken over
            writer.join()
            halted_at.append(report.follow_passes)
        elif report.follow_passes >= halted_at[0] + 2:
            stop.set()  # two whole passes began after the writer's last write

    dense, sparse = encoders
    enricher = Enricher(
        adapter,
        the_plan,
        dense,
        sparse,
        models_id("minilm", "splade-tiny"),
        EnrichOptions(
            page=16, follow=True, poll_seconds=0.3, bulk=BulkOptions(max_docs=16, concurrency=2)
        ),
        progress=progress,
        stop=stop,
    )
    writer.start()
    worker = threading.Thread(target=enricher.run, daemon=True)
    worker.start()
    worker.join(timeout=300)
    stop.set()
    writer.halt.set()
    assert not worker.is_alive(), f"enrich did not finish: {enricher.report.as_dict()}"
    assert writer.errors == []
    report = enricher.report
    assert writer.counts["new"] > 0 and writer.counts["edit"] > 0, writer.counts
    assert report.failures == []

    held = stored(engine_client, alias)
    assert sorted(held) == sorted(set(writer.ids)), "every document the application wrote"
    assert stale(held) == [], report.as_dict()
    assert report.caught_up + report.followed > 0
    if strategy == "reindex":
        assert list(dict(engine_client.indices.get_alias(name=alias))) == [the_plan.target]
        assert engine_client.indices.exists(index=index)
    wrote = f"writer {writer.counts}, refused {writer.refused}"
    print(f"\n{strategy} on {engine.name}: {wrote}; report {report.as_dict()}")
    adapter.close()

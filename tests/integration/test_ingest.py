"""Ingest on real engines with real models: nothing lost, faults included.

Documents are short SciFact abstracts (models truncated at 64 tokens to keep
the runs quick on two cores); every assertion is about what the engine holds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.sparse import SpladeEncoder
from tandem.integration import probe
from tandem.integration.config import StartOptions
from tandem.integration.handle import EngineHandle
from tandem.integration.launcher import Launcher
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.mapping import build_index_body
from tandem.plugin.index.spec import IndexSpec, MetadataField, default_spec
from tandem.plugin.index.terms import decode_term
from tandem.plugin.ingest.bulk import BulkOptions, BulkWriter, RetryPolicy
from tandem.plugin.ingest.documents import BadLine, Document, read_documents
from tandem.plugin.ingest.pipeline import FieldMap, IngestOptions, Ingestor, SourceBuilder
from tandem.plugin.ingest.progress import Snapshot

from .cli import tandem
from .shared_data import shared_dir

SHORT = 64


@pytest.fixture(scope="module")
def dense() -> DenseEncoder:
    return load_dense(dataclasses.replace(KNOWN_MODELS["minilm"], max_length=SHORT))


@pytest.fixture(scope="module")
def sparse() -> SpladeEncoder:
    return load_sparse(dataclasses.replace(KNOWN_MODELS["splade-tiny"], max_length=SHORT))


def scifact(count: int) -> list[Document]:
    docs = []
    for record in read_documents(shared_dir() / "data" / "scifact"):
        assert isinstance(record, Document)
        docs.append(record)
        if len(docs) == count:
            break
    return docs


def _create(adapter: EngineAdapter, spec: IndexSpec, dims: int) -> None:
    adapter.create_index(spec.name, build_index_body(spec, adapter.capabilities, model_dims=dims))


def _ingestor(
    adapter: EngineAdapter,
    index: str,
    dense: DenseEncoder,
    sparse: SpladeEncoder | None,
    bulk: BulkOptions,
    resume: bool = False,
    progress: Any = None,
) -> Ingestor:
    builder = SourceBuilder(FieldMap(), dense, sparse)
    writer = BulkWriter(adapter, index, bulk)
    return Ingestor(writer, builder, IngestOptions(batch_size=16, resume=resume), progress)


def test_every_document_is_indexed_with_vectors_and_terms(
    engine: EngineHandle, index_name: str, dense: DenseEncoder, sparse: SpladeEncoder
) -> None:
    adapter = connect(engine.url)
    docs = scifact(40)
    _create(adapter, default_spec(index_name, ("title", "text"), 384, True), 384)
    report = _ingestor(adapter, index_name, dense, sparse, BulkOptions(max_docs=15)).run(docs)
    adapter.refresh(index_name)
    assert (report.indexed, report.failures) == (40, [])
    assert adapter.count(index_name) == 40
    body: dict[str, Any] = {"query": {"ids": {"values": [docs[0].id]}}}
    if engine.kind is EngineKind.ELASTICSEARCH:
        body["_source"] = {"exclude_vectors": False}  # 9.x leaves vectors out of _source
    hit = adapter.search(index_name, body)["hits"]["hits"][0]
    stored = hit["_source"]
    assert stored["title"] == docs[0].text["title"]
    terms = {decode_term(k): v for k, v in stored["sparse"].items()}
    expected = sparse.encode([docs[0].passage()])[0].as_dict()
    assert set(terms) == set(expected)  # token strings survive the round trip
    # Ingesting again is idempotent: ids are the documents' own.
    again = _ingestor(adapter, index_name, dense, None, BulkOptions()).run(docs[:10])
    adapter.refresh(index_name)
    assert again.indexed == 10 and adapter.count(index_name) == 40


def test_mapping_conflicts_are_reported_and_the_rest_indexed(
    engine: EngineHandle, index_name: str, dense: DenseEncoder
) -> None:
    adapter = connect(engine.url)
    spec = dataclasses.replace(
        default_spec(index_name, ("title", "text"), 384, False),
        metadata=(MetadataField("year", "integer"),),
    )
    _create(adapter, spec, 384)
    docs = scifact(30)
    bad_ids = {docs[i].id for i in (3, 11, 29)}
    records: list[Document | BadLine] = [
        dataclasses.replace(d, metadata={"year": "not-a-year" if d.id in bad_ids else 2020})
        for d in docs
    ]
    records.insert(5, BadLine("corpus.jsonl", 6, "invalid JSON"))
    report = _ingestor(adapter, index_name, dense, None, BulkOptions(max_docs=8)).run(records)
    adapter.refresh(index_name)
    failed = {f.id: f.reason for f in report.failures}
    assert set(failed) == bad_ids | {"corpus.jsonl:6"}
    assert all("parsing_exception" in failed[i] for i in bad_ids), failed
    assert report.indexed == 27 == adapter.count(index_name)


def _free_port(start: int) -> int:
    for port in range(start, start + 50):
        if probe.port_is_free(port) and probe.port_is_free(port + 100):
            return port
    raise RuntimeError("no free port")


@pytest.fixture
def tiny_queue_engine() -> Iterator[EngineHandle]:
    """An Elasticsearch whose write pool has one thread and a queue of one: 429s galore."""
    launcher = Launcher(provider="process")
    settings = (("thread_pool.write.size", "1"), ("thread_pool.write.queue_size", "1"))
    handle = launcher.up(
        EngineKind.ELASTICSEARCH, port=_free_port(9500), options=StartOptions(settings=settings)
    )
    yield handle
    launcher.stop(handle)


def test_429_is_retried_until_everything_is_indexed(
    tiny_queue_engine: EngineHandle, dense: DenseEncoder
) -> None:
    adapter = connect(tiny_queue_engine.url)
    index = "tandem-test-overload"
    adapter.delete_index(index)
    _create(adapter, default_spec(index, ("title", "text"), 384, False), 384)
    docs = scifact(120)
    retry = RetryPolicy(attempts=30, base=0.05, cap=0.5)
    writer_options = BulkOptions(max_docs=4, concurrency=6, retry=retry)
    ingestor = _ingestor(adapter, index, dense, None, writer_options)
    sent = []
    original = ingestor.writer.send

    def recording_send(items: Any) -> Any:
        results = original(items)
        sent.extend(results)
        return results

    ingestor.writer.send = recording_send  # type: ignore[method-assign]
    report = ingestor.run(docs)
    adapter.refresh(index)
    assert report.failures == []
    assert adapter.count(index) == report.indexed == 120
    assert max(r.attempts for r in sent) > 1, "the engine never answered 429: fault not provoked"


@pytest.fixture
def restartable_engine() -> Iterator[tuple[Launcher, EngineHandle]]:
    launcher = Launcher(provider="process")
    handle = launcher.up(EngineKind.ELASTICSEARCH, port=_free_port(9550))
    yield launcher, handle
    launcher.down((EngineKind.ELASTICSEARCH,), port=handle.port)


def test_engine_killed_mid_ingest_then_resumed(
    restartable_engine: tuple[Launcher, EngineHandle], dense: DenseEncoder
) -> None:
    launcher, handle = restartable_engine
    adapter = connect(handle.url)
    index = "tandem-test-crash"
    adapter.delete_index(index)
    _create(adapter, default_spec(index, ("title", "text"), 384, False), 384)
    docs = scifact(200)
    killed = threading.Event()

    def kill_after_some(snapshot: Snapshot, final: bool) -> None:
        if snapshot.done >= 40 and not killed.is_set():
            killed.set()
            assert handle.pid is not None
            os.killpg(handle.pid, signal.SIGKILL)

    quick = BulkOptions(
        max_docs=10, concurrency=1, retry=RetryPolicy(attempts=3, base=0.1, cap=0.2)
    )
    first = _ingestor(adapter, index, dense, None, quick, progress=kill_after_some).run(docs)
    assert killed.is_set()
    assert first.failures, "the engine died, so some documents must have failed"
    acknowledged = first.indexed
    assert 40 <= acknowledged < 200

    restarted = launcher.up(EngineKind.ELASTICSEARCH, port=handle.port)
    assert restarted.origin == "started"
    adapter = connect(restarted.url)
    second = _ingestor(adapter, index, dense, None, BulkOptions(), resume=True).run(docs)
    adapter.refresh(index)
    assert second.failures == []
    assert second.skipped >= acknowledged  # every acknowledged document survived the crash
    assert second.skipped + second.indexed == 200
    assert adapter.count(index) == 200  # ids are the documents' own: no duplicates
    assert adapter.existing_ids(index, [d.id for d in docs]) == {d.id for d in docs}


def test_cli_index_and_resume(engine: EngineHandle, index_name: str, tmp_path: Path) -> None:
    data = tmp_path / "docs.jsonl"
    lines = [json.dumps({"_id": d.id, **d.text}) for d in scifact(25)]
    lines.insert(3, "{not json")
    data.write_text("\n".join(lines) + "\n")
    common = ["index", str(data), "--index", index_name, "--engine", engine.url, "--sparse", "none"]
    first = tandem(*common)
    assert first.returncode == 1, first.stderr  # one bad line
    assert "indexed 25, skipped 0 already stored, failed 1" in first.stdout
    assert "docs.jsonl:4: invalid JSON" in first.stdout
    second = tandem(*common, "--resume")
    assert "indexed 0, skipped 25 already stored, failed 1" in second.stdout
    assert "docs/s" in second.stderr or "docs/s" in second.stdout

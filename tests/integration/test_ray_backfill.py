"""``tandem index --ray`` and ``tandem enrich --ray``: encoding on a local Ray, against a
single-process run of the same command.

Only the encoding moves to Ray; reading, markers, the bulk writer and the report stay
in the calling process, so these run on one engine (OpenSearch, the default): the
engines' write paths are covered by the single-process tests on every engine.

- the stored documents equal a single-process run's, document for document (the
  chunks are the same encoder batches, so the vectors are equal, not merely close);
- bad input (a broken line, a record without text, one the engine rejects) is
  reported as in the single-process run;
- a worker SIGKILLed mid-run is restarted by Ray and its chunk retried: every
  document is settled once, none is lost, and the stored vectors equal the baseline.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.integration.handle import EngineHandle
from tandem.integration.pytest_plugin import EnginePool
from tandem.integration.specs import DEFAULT_VERSIONS
from tandem.plugin.distributed.pool import EncoderPool, PoolOptions, import_ray
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.enrich.marker import DEFAULT_MARKER_FIELD
from tandem.plugin.index.spec import default_spec
from tandem.plugin.ingest.assemble import build_ingestor, ensure_index
from tandem.plugin.ingest.documents import read_documents
from tandem.plugin.ingest.pipeline import FieldMap, IngestOptions

from .cli import tandem
from .shared_data import shared_dir
from .user_index import bulk, create_user_index, scifact_docs, stored

pytestmark = pytest.mark.integration

DOCS = 64
BATCH = "8"  # several chunks per round, so both workers encode
KILL_DOCS = 160


@pytest.fixture(scope="module")
def opensearch(engine_pool: EnginePool) -> EngineHandle:
    return engine_pool.get(EngineKind.OPENSEARCH, DEFAULT_VERSIONS[EngineKind.OPENSEARCH])


@pytest.fixture
def client(opensearch: EngineHandle) -> Iterator[Any]:
    from opensearchpy import OpenSearch

    opensearch_client = OpenSearch(opensearch.url, timeout=60)
    made: list[str] = []
    opensearch_client.made = made
    yield opensearch_client
    for index in made:
        opensearch_client.indices.delete(index=f"{index}*", ignore_unavailable=True)
    opensearch_client.close()


def _name(client: Any, label: str) -> str:
    name = f"tandem-test-ray-{label}-{os.urandom(4).hex()}"
    client.made.append(name)
    return name


def _vectors(client: Any, index: str) -> dict[str, str]:
    """Each stored document's vectors (dense and sparse) and fields, as a hash by id."""
    return {
        doc_id: hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()
        for doc_id, source in stored(client, index).items()
    }


def _corpus(path: Path) -> Path:
    """SciFact documents, plus one broken line, one record without text and one the
    engine rejects (a ``year`` that is not a number, after numbers mapped it)."""
    lines = [
        json.dumps({"_id": d["_id"], "title": d["title"], "text": d["body"], "year": 2020})
        for d in scifact_docs(DOCS)
    ]
    lines.insert(5, '{"_id": "broken", "title": ')
    lines.insert(20, json.dumps({"_id": "no-text", "title": "  ", "text": ""}))
    lines.append(json.dumps({"_id": "bad-year", "title": "t", "text": "x", "year": "soon"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _report(run: Any) -> str:
    """The summary line without its timing."""
    line = next(x for x in run.stdout.splitlines() if x.startswith("indexed "))
    return line.split(" in ")[0]


def test_index_on_ray_stores_what_a_single_process_stores(
    opensearch: EngineHandle, client: Any, tmp_path: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus.jsonl")
    alone, on_ray = _name(client, "alone"), _name(client, "ray")
    common = ["index", str(corpus), "--engine", opensearch.url, "--batch-size", BATCH]
    single = tandem(*common, "--index", alone, "--failures", str(tmp_path / "alone.jsonl"))
    ray = tandem(*common, "--index", on_ray, "--ray", "--failures", str(tmp_path / "ray.jsonl"))
    assert single.returncode == ray.returncode == 1, ray.stderr[-3000:]
    assert "encoder worker(s) ready" in ray.stderr
    assert (
        _report(ray) == _report(single) == (f"indexed {DOCS:,}, skipped 0 already stored, failed 3")
    )
    failures = (tmp_path / "ray.jsonl").read_text()
    assert failures == (tmp_path / "alone.jsonl").read_text()
    assert {json.loads(x)["id"] for x in failures.splitlines()} == {
        "corpus.jsonl:6",
        "corpus.jsonl:21",
        "bad-year",
    }
    expected = _vectors(client, alone)
    assert len(expected) == DOCS
    assert _vectors(client, on_ray) == expected


def test_enrich_on_ray_writes_what_a_single_process_writes(
    opensearch: EngineHandle, client: Any, tmp_path: Path
) -> None:
    docs = scifact_docs(DOCS)
    docs[3] = {**docs[3], "title": "", "body": ""}  # no text: reported, left alone
    alone, on_ray = _name(client, "alone"), _name(client, "ray")
    for index in (alone, on_ray):
        create_user_index(client, opensearch, index, knn=True)
        bulk(client, opensearch, index, docs)
    common = ["enrich", "--engine", opensearch.url, "--text", "title,body", "--json"]
    common += ["--batch-size", BATCH, "--page", "32"]
    single = tandem(*common, "--index", alone, "--checkpoint", str(tmp_path / "a.json"))
    ray = tandem(*common, "--index", on_ray, "--ray", "--checkpoint", str(tmp_path / "b.json"))
    assert single.returncode == ray.returncode == 0, ray.stderr[-3000:]
    counts = ("strategy", "scanned", "enriched", "encoded", "failed", "no_text", "bad_text")
    ours, theirs = json.loads(ray.stdout), json.loads(single.stdout)
    assert {k: ours.get(k) for k in counts} == {k: theirs.get(k) for k in counts}
    assert ours["encoded"] == DOCS - 1
    mine, baseline = stored(client, on_ray), stored(client, alone)
    assert set(mine) == set(baseline)
    for doc_id, source in baseline.items():
        # The marker differs only in its time ("at").
        for marker in (source, mine[doc_id]):
            marker.get(DEFAULT_MARKER_FIELD, {}).pop("at", None)
        assert mine[doc_id] == source, doc_id


def test_ray_flags_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "1", "text": "x"}\n')
    both = tandem("index", str(corpus), "--index", "x", "--ray", "--server", "localhost:1")
    assert both.returncode == 2
    assert "--ray runs the models on a Ray cluster" in both.stderr
    alone = tandem("enrich", "--index", "x", "--text", "t", "--ray-workers", "2")
    assert alone.returncode == 2
    assert "--ray-workers and --ray-worker-cpus need --ray" in alone.stderr


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """A local Ray for this process (after the command-line tests, whose own Rays are gone)."""
    ray = import_ray()
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 2**20)
    yield ray
    ray.shutdown()


def _ingest(opensearch: EngineHandle, index: str, pool: EncoderPool | None, **models: Any) -> Any:
    """Ingest SciFact's first ``KILL_DOCS`` into ``index``; the report and each settled id."""
    adapter = connect(opensearch.url)
    settled: list[str] = []
    dense = pool.dense if pool is not None else models["dense"]
    sparse = pool.sparse if pool is not None else models["sparse"]
    spec = default_spec(index, ("title", "text"), 384, True)
    ensure_index(adapter, spec, 384)
    ingestor = build_ingestor(
        adapter,
        index,
        FieldMap.of(spec),
        dense,
        sparse,
        options=IngestOptions(batch_size=8),
        on_result=lambda doc_id, _outcome, _reason: settled.append(doc_id),
        pool=pool,
        progress=models.get("progress"),
    )
    data = shared_dir() / "data" / "scifact"
    records = (r for r, _ in zip(read_documents(data), range(KILL_DOCS), strict=False))
    try:
        report = ingestor.run(records)
        adapter.refresh(index)
    finally:
        adapter.close()
    return report, settled


def test_a_worker_killed_mid_run_is_restarted_and_nothing_is_lost_or_doubled(
    opensearch: EngineHandle, client: Any, local_ray: Any
) -> None:
    baseline = _name(client, "alone")
    _ingest(
        opensearch,
        baseline,
        None,
        dense=load_dense(KNOWN_MODELS["minilm"]),
        sparse=load_sparse(KNOWN_MODELS["splade-tiny"]),
    )
    killed: list[tuple[int, int]] = []  # (pid, documents settled at the kill)

    with EncoderPool.start(
        KNOWN_MODELS["minilm"], KNOWN_MODELS["splade-tiny"], options=PoolOptions(workers=2)
    ) as pool:
        first = pool.pids()
        lock = threading.Lock()

        def kill_once(snapshot: Any, _final: bool) -> None:
            with lock:
                if not killed and snapshot.done >= 16:
                    os.kill(first[0], signal.SIGKILL)
                    killed.append((first[0], snapshot.done))

        index = _name(client, "ray")
        report, settled = _ingest(opensearch, index, pool, progress=kill_once)
        after = pool.pids()

    assert killed and killed[0][1] < KILL_DOCS, "the worker was not killed mid-run"
    assert after[0] != first[0], "Ray did not restart the killed worker"
    assert report.indexed == KILL_DOCS and not report.failures
    assert Counter(settled) == Counter({doc_id: 1 for doc_id in settled})
    assert len(settled) == KILL_DOCS
    assert _vectors(client, index) == _vectors(client, baseline)

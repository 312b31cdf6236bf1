"""``tandem enrich`` killed with SIGKILL mid-run, then ``--resume``: nothing missing,
nothing written twice, and no document encoded twice but those in flight at the kill.

``--audit FILE`` appends the id of every document as it is encoded, so the pair of
runs' encoder calls can be counted. A document whose vectors were stored before
the kill is not encoded again (its marker is current); one encoded but not yet
written when the process died is encoded again, and only those: at most the
pages in flight (one being encoded plus ``--concurrency`` bulk requests).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tandem.integration.handle import EngineHandle

from .cli import spawn, tandem
from .user_index import bulk, create_user_index, scifact_docs, stale, stored

pytestmark = pytest.mark.integration

DOCS = 320
PAGE = 32
CONCURRENCY = 2
KILL_AFTER = 128  # audited encodings before the SIGKILL


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _kill_when_audited(command: list[str], audit: Path, count: int) -> int:
    """Run ``command`` until ``audit`` holds ``count`` ids, then SIGKILL its group."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while len(_lines(audit)) < count:
            if process.poll() is not None:
                _, err = process.communicate()
                raise AssertionError(f"enrich ended before the kill: {err.decode()[-2000:]}")
            assert time.monotonic() < deadline, "enrich encoded too little in 300 s"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    return len(_lines(audit))


@pytest.mark.newest_engines
@pytest.mark.parametrize("strategy", ["in-place", "reindex"])
def test_sigkill_then_resume_encodes_each_document_once_and_misses_none(
    strategy: str, engine: EngineHandle, engine_client: Any, index_name: str, tmp_path: Path
) -> None:
    in_place = strategy == "in-place"
    create_user_index(engine_client, engine, index_name, knn=in_place)
    docs = scifact_docs(DOCS)
    bulk(engine_client, engine, index_name, docs)
    audit, checkpoint = tmp_path / "audit.txt", tmp_path / "checkpoint.json"
    args = [
        "enrich",
        "--engine",
        engine.url,
        "--index",
        index_name,
        "--text",
        "title,body",
        "--strategy",
        strategy,
        "--sparse",
        "none",
        "--page",
        str(PAGE),
        "--bulk-docs",
        str(PAGE),
        "--concurrency",
        str(CONCURRENCY),
        "--checkpoint",
        str(checkpoint),
        "--audit",
        str(audit),
        "--json",
    ]
    if not in_place:
        args += ["--alias", f"{index_name}-live"]
    command = [sys.executable, "-c", "from tandem.plugin.cli import main; main()", *args]
    at_kill = _kill_when_audited(command, audit, KILL_AFTER)
    assert KILL_AFTER <= at_kill < DOCS, "the kill came mid-run"
    assert checkpoint.exists(), "a checkpoint was left for --resume"

    resumed = tandem(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert report["failed"] == []
    assert not checkpoint.exists(), "a finished run clears its checkpoint"

    ids = {d["_id"] for d in docs}
    encoded = Counter(_lines(audit))
    assert set(encoded) == ids, f"never encoded: {sorted(ids - set(encoded))[:10]}"
    twice = sorted(i for i, n in encoded.items() if n > 1)
    in_flight = PAGE * (CONCURRENCY + 1)
    assert all(n <= 2 for n in encoded.values())
    assert len(twice) <= in_flight, f"{len(twice)} encoded twice: {twice[:10]}"

    held = stored(engine_client, index_name if in_place else f"{index_name}-live")
    assert sorted(held) == sorted(ids)
    assert stale(held) == []
    # In place each document took one update (version 2); a copy wrote each once.
    once = 2 if in_place else 1
    versions = Counter(doc["_version"] for doc in held.values())
    assert versions == {once: DOCS}, versions
    if not in_place:
        assert list(dict(engine_client.indices.get_alias(name=f"{index_name}-live"))) == [
            f"{index_name}-tandem-1"
        ]
    print(
        f"\n{strategy} on {engine.name}: {at_kill} encoded before the SIGKILL, "
        f"{len(twice)} encoded again after it (in flight at most {in_flight}), "
        f"resumed run enriched {report['enriched']} and found {report['unchanged']} current"
    )


@pytest.mark.newest_engines
def test_sigterm_stops_with_a_report_and_resume_finishes(
    engine: EngineHandle, engine_client: Any, index_name: str, tmp_path: Path
) -> None:
    """``kill`` (a container stop) ends the run like Ctrl-C: the report, the hint, 143."""
    create_user_index(engine_client, engine, index_name, knn=True)
    docs = scifact_docs(DOCS)
    bulk(engine_client, engine, index_name, docs)
    audit, checkpoint = tmp_path / "audit.txt", tmp_path / "checkpoint.json"
    args = [
        *("enrich", "--engine", engine.url, "--index", index_name, "--text", "title,body"),
        *("--sparse", "none", "--page", str(PAGE), "--bulk-docs", str(PAGE)),
        *("--checkpoint", str(checkpoint), "--audit", str(audit), "--json"),
    ]
    process = spawn(*args)
    try:
        deadline = time.monotonic() + 300
        while len(_lines(audit)) < KILL_AFTER and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1][-2000:]
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err[-2000:]
    assert "--resume" in err
    report = json.loads(out.strip().splitlines()[-1])
    assert 0 < report["enriched"] < DOCS
    assert checkpoint.exists()

    resumed = tandem(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert stale(stored(engine_client, index_name)) == []

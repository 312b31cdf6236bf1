"""``tandem enrich --follow`` behind an application writing 20 documents a second.

The application (a thread of plain client calls) starts writing as the command
starts, so its first writes land during the backfill, and keeps writing for 30
seconds: new documents, and edits of the text of documents already there. The
command runs as a user runs it, in a subprocess, until Ctrl-C. At the end nothing
is missed (every document is there with vectors and a marker of its current text),
and the lag of each write (the marker's ``at`` minus the moment the write was
sent) is printed as p50 / p99, for the writes made once follow mode had begun
and for those made during the backfill. The lag is a figure in the output, not an
assertion: speed claims live in benchmarks.

The application's new documents are short (a SciFact title and the first 200
characters of its abstract, about 300 characters): on two cores the encoders make
about 20 documents a second of whole abstracts (1,500 characters), no more than the
application writes, and no follower keeps a bounded lag behind writes that outpace
its encoder. Short ones encode at about 80 a second, which leaves the headroom a
production follower would be given.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tandem.integration.clients import client_for
from tandem.integration.handle import EngineHandle
from tandem.plugin.enrich.marker import Marker

from .cli import spawn
from .user_index import bulk, create_user_index, scifact_docs, stale, stored

pytestmark = pytest.mark.integration

RATE = 20.0  # writes a second
SECONDS = 30.0  # at least; and until FOLLOWED seconds after follow mode began
FOLLOWED = 10.0
MAX_SECONDS = 120.0  # follow mode must begin by then
START_DOCS = 100
SHORT = 200  # characters of each new document's abstract


class PacedWriter(threading.Thread):
    """Writes at ``RATE`` a second until told to stop (at most ``MAX_SECONDS``): four new
    documents to one edit."""

    def __init__(self, engine: EngineHandle, index: str, ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.client = client_for(engine)
        self.index = index
        self.ids = list(ids)
        self.fresh = iter(scifact_docs(int(RATE * MAX_SECONDS) + 10, offset=START_DOCS))
        self.halt = threading.Event()
        self.sent: dict[str, float] = {}  # id -> when its last write was sent
        self.errors: list[str] = []

    def run(self) -> None:
        began = time.monotonic()
        for n in range(int(RATE * MAX_SECONDS)):
            time.sleep(max(0.0, began + n / RATE - time.monotonic()))
            if self.halt.is_set():
                return
            try:
                self._one(n)
            except Exception as err:
                self.errors.append(f"{type(err).__name__}: {err}")
                return

    def _one(self, n: int) -> None:
        sent = time.time()
        if n % 5 == 4:
            doc_id = self.ids[(n * 7919) % len(self.ids)]
            text = f"edited {uuid.uuid4().hex} text of {doc_id}"
            self.client.update(  # retried on a race with enrich's own update, as apps do
                index=self.index, id=doc_id, body={"doc": {"body": text}}, retry_on_conflict=5
            )
        else:
            doc = next(self.fresh)
            doc_id = doc.pop("_id")
            doc["body"] = doc["body"][:SHORT]
            self.client.index(index=self.index, id=doc_id, body=doc)
            self.ids.append(doc_id)
        self.sent[doc_id] = sent


def _phase(checkpoint: Path) -> str | None:
    try:
        return str(json.loads(checkpoint.read_text())["state"]["phase"])
    except (OSError, ValueError, KeyError):
        return None


def _percentiles(lags: list[float]) -> str:
    if not lags:
        return "none"
    p50, p99 = np.percentile(lags, [50, 99])
    return f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(lags):.2f} s over {len(lags)} writes"


@pytest.mark.newest_engines
def test_follow_enriches_every_write_within_a_measured_lag(
    engine: EngineHandle, engine_client: Any, index_name: str, tmp_path: Path
) -> None:
    create_user_index(engine_client, engine, index_name, knn=True)
    docs = scifact_docs(START_DOCS)
    bulk(engine_client, engine, index_name, docs)
    checkpoint = tmp_path / "checkpoint.json"
    args = ["--engine", engine.url, "--index", index_name, "--text", "title,body"]
    process = spawn(
        *("enrich", *args, "--follow", "--poll", "1"),
        *("--checkpoint", str(checkpoint), "--json"),
    )
    writer = PacedWriter(engine, index_name, [d["_id"] for d in docs])
    followed_at: float | None = None
    try:
        # The application writes from the moment the backfill starts (the checkpoint
        # exists): the command's start-up and model loading are not the test's subject,
        # and on a busy machine they ate into the writer's 30 s before follow mode.
        deadline = time.monotonic() + 120
        while _phase(checkpoint) is None:
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "enrich did not start its backfill in 120 s"
            time.sleep(0.05)
        writer.start()
        began = time.time()
        # The application writes for SECONDS, and on until FOLLOWED seconds of follow mode
        # (how soon follow mode begins depends on the machine's encoding speed).
        while writer.is_alive():
            if followed_at is None and _phase(checkpoint) == "follow":
                followed_at = time.time()
            now = time.time()
            if (
                followed_at is not None
                and min(now - began - SECONDS, now - followed_at - FOLLOWED) >= 0
            ):
                writer.halt.set()
            assert process.poll() is None, process.communicate()[1][-3000:]
            time.sleep(0.05)
        assert writer.errors == []
        assert followed_at is not None, f"follow mode began within {MAX_SECONDS:.0f} s of writes"
        # Wait (bounded) until the last writes have vectors, then Ctrl-C.
        deadline = time.monotonic() + 60
        while stale(stored(engine_client, index_name)) and time.monotonic() < deadline:
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["failed"] == []

    held = stored(engine_client, index_name)
    assert sorted(held) == sorted(set(writer.ids)), "every document the application wrote"
    assert stale(held) == [], "nothing missed: every marker matches its document's text"
    during, after = [], []
    for doc_id, sent in writer.sent.items():
        marker = Marker.read(held[doc_id].get("tandem_enrich"))
        assert marker is not None
        (after if sent >= followed_at else during).append(marker.at - sent)
    assert after, "writes were made in follow mode"
    print(
        f"\nfollow lag on {engine.name} at {RATE:.0f} writes/s for {time.time() - began:.0f} s: "
        f"in follow mode {_percentiles(after)}; written during the backfill "
        f"{_percentiles(during)}; report followed={report['followed']} "
        f"caught_up={report['caught_up']}"
    )

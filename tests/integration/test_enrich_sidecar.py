"""``EnrichIndex`` and ``tandem enrich --server``: the same enrich, run by a sidecar.

Real sidecars in front of each engine of the matrix, a user's own index written by the
engine's client, and the command run as a user runs it.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from tandem.client import ClientError, EnrichResult, EnrichSettings, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import spawn, tandem
from .user_index import MARKER, bulk, create_user_index, scifact_docs, stale, stored

pytestmark = pytest.mark.integration


@pytest.fixture
def index(engine_client: Any, engine: EngineHandle) -> Iterator[str]:
    """A user's index of 30 SciFact documents (HNSW-ready on OpenSearch)."""
    name = f"user-{uuid.uuid4().hex[:10]}"
    create_user_index(engine_client, engine, name, knn=True)
    bulk(engine_client, engine, name, scifact_docs(30))
    yield name
    found = engine_client.indices.get(index=f"{name}*", ignore_unavailable=True)
    for made in dict(found):
        engine_client.indices.delete(index=made, ignore_unavailable=True)


def test_enrich_index_streams_the_plan_progress_and_the_report(
    engine_sidecar_client: TandemClient, engine_client: Any, index: str
) -> None:
    seen: list[EnrichResult] = []
    result = engine_sidecar_client.enrich_index(
        EnrichSettings(index, ["title", "body"]),
        progress=lambda so_far: seen.append(EnrichResult(so_far.plan, so_far.progress)),
    )
    assert result.plan["strategy"] == "in-place" and result.plan["source"] == index
    assert seen[0].plan and seen[0].progress is not None and seen[0].progress.phase == "prepare"
    assert result.report is not None and result.progress is not None
    assert result.report["enriched"] == 30 and result.report["failed"] == []
    assert result.progress.phase == "done" and result.progress.enriched == 30
    held = stored(engine_client, index)
    assert stale(held) == []
    # The sidecar labels its models as the CLI does, so either skips what the other did.
    assert held[next(iter(held))][MARKER]["models"] == "dense=minilm;sparse=splade-tiny"

    again = engine_sidecar_client.enrich_index(EnrichSettings(index, ["title", "body"]))
    assert again.report is not None
    assert (again.report["encoded"], again.report["unchanged"]) == (0, 30)


def test_enrich_index_checks_before_writing(
    engine_sidecar_client: TandemClient, engine_client: Any, index: str
) -> None:
    with pytest.raises(ClientError) as missing:
        engine_sidecar_client.enrich_index(EnrichSettings(f"{index}-nope", ["title"]))
    assert missing.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "does not exist" in str(missing.value)

    with pytest.raises(ClientError) as no_fields:
        engine_sidecar_client.enrich_index(EnrichSettings(index, []))
    assert no_fields.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "--text" in str(no_fields.value)

    with pytest.raises(ClientError) as wrong_type:
        engine_sidecar_client.enrich_index(
            EnrichSettings(index, ["title"], dense_field="tag")  # a keyword field
        )
    assert wrong_type.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "tag" in str(wrong_type.value)

    dry = engine_sidecar_client.enrich_index(EnrichSettings(index, ["title"], dry_run=True))
    assert dry.plan["strategy"] == "in-place" and dry.report is None
    assert all(MARKER not in doc for doc in stored(engine_client, index).values())


def test_enrich_with_server_runs_in_the_sidecar_and_refuses_local_flags(
    engine_sidecar: EmbeddedSidecar, engine_client: Any, index: str
) -> None:
    address = engine_sidecar.address
    done = tandem("enrich", "--server", address, "--index", index, "--text", "title,body")
    assert done.returncode == 0, done.stderr
    assert f"plan ({address}): in-place" in done.stderr
    assert "enriched 30 in " in done.stdout
    assert stale(stored(engine_client, index)) == []

    refused = tandem(
        "enrich", "--server", address, "--index", index, "--text", "body", "--engine", "x"
    )
    assert refused.returncode == 2
    assert "--engine" in refused.stderr and "without --server" in refused.stderr


def test_follow_through_the_sidecar_ends_on_ctrl_c_with_its_report(
    engine_sidecar: EmbeddedSidecar, engine_client: Any, index: str
) -> None:
    process = spawn(
        *("enrich", "--server", engine_sidecar.address, "--index", index),
        *("--text", "title,body", "--follow", "--poll", "0.5", "--json"),
    )
    try:
        deadline = time.monotonic() + 120
        while stale(stored(engine_client, index)) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1][-3000:]
            time.sleep(0.5)
        engine_client.index(
            index=index, id="late", body={"title": "late", "body": "written while following"}
        )
        while "late" in stale(stored(engine_client, index)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert stale(stored(engine_client, index)) == []
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["enriched"] == 31 and report["followed"] == 1

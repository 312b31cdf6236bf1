"""``tandem serve --help``, ``tandem encode`` and ``tandem search --server`` as a user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tandem.client import TandemClient
from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import tandem
from .sidecar import spec_json


def test_serve_help_lists_every_flag_with_its_environment_variable() -> None:
    done = tandem("serve", "--help")
    assert done.returncode == 0
    for flag, env in [
        ("--max-batch-tokens", "TANDEM_MAX_BATCH_TOKENS"),
        ("--auth-token-file", "TANDEM_AUTH_TOKEN_FILE"),
        ("--tls-client-ca", "TANDEM_TLS_CLIENT_CA"),
        ("--engine", "TANDEM_ENGINE"),
        ("--grace", "TANDEM_GRACE"),
    ]:
        assert flag in done.stdout and env in done.stdout


def test_serve_refuses_bad_settings_with_a_message() -> None:
    done = tandem("serve", "--tls-cert", "/nonexistent.pem", "--metrics-port", "-1")
    assert done.returncode == 2
    assert "needs both --tls-cert and --tls-key" in done.stderr


def test_encode_prints_dense_and_sparse_json(
    encoding_sidecar: EmbeddedSidecar, encoding_client: TandemClient
) -> None:
    done = tandem("encode", "--server", encoding_sidecar.address, "--query", "hybrid search")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    printed = json.loads(line)
    expected = encoding_client.encode_dense(["hybrid search"], kind="query").vectors[0]
    assert printed["text"] == "hybrid search"
    assert np.allclose(printed["dense"], expected, atol=1e-6)
    assert "tokens" in done.stderr

    sparse = tandem(
        "encode", "--server", encoding_sidecar.address, "--sparse", "--top-k", "3", "cell biology"
    )
    assert sparse.returncode == 0, sparse.stderr
    terms = json.loads(sparse.stdout)["sparse"]
    assert len(terms) == 3 and all(v > 0 for v in terms.values())


def test_encode_reports_an_unreachable_server_clearly() -> None:
    done = tandem("encode", "--server", "127.0.0.1:1", "text")
    assert done.returncode == 2
    assert "UNAVAILABLE" in done.stderr and "Traceback" not in done.stderr


def test_search_through_the_sidecar_matches_the_in_process_search(
    engine_sidecar: EmbeddedSidecar, engine_sidecar_client: TandemClient
) -> None:
    name = f"tandem-cli-{uuid.uuid4().hex[:8]}"
    engine_sidecar_client.create_index(spec_json(name))
    try:
        docs = [
            {"_id": "solar", "title": "Solar panels", "text": "Cells turn light into power."},
            {"_id": "wind", "title": "Wind turbines", "text": "Blades drive a generator."},
            {"_id": "bread", "title": "Sourdough", "text": "Wild yeast leavens the dough."},
        ]
        assert engine_sidecar_client.index_documents(name, docs).indexed == 3
        engine = engine_sidecar.sidecar.runtime.engine.url
        assert engine is not None
        remote = tandem(
            "search", "--server", engine_sidecar.address, "--index", name, "--json",
            "--explain", "--size", "3", "energy from sunlight",
        )  # fmt: skip
        local = tandem(
            "search", "--engine", engine, "--index", name, "--json", "--explain", "--size", "3",
            "energy from sunlight",
        )  # fmt: skip
        assert remote.returncode == 0, remote.stderr
        assert local.returncode == 0, local.stderr
        remote_hits = json.loads(remote.stdout)["hits"]
        local_hits = json.loads(local.stdout)["hits"]
        assert remote_hits[0]["id"] == "solar"
        assert [h["id"] for h in remote_hits] == [h["id"] for h in local_hits]
        # no word in common with the query: BM25 does not find it, the vectors do
        assert {"dense", "sparse"} <= set(remote_hits[0]["retrievers"])
    finally:
        engine_sidecar_client.delete_index(name)


def test_index_through_the_sidecar_stream(
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
    tmp_path: Path,
) -> None:
    name = f"tandem-cli-ingest-{uuid.uuid4().hex[:8]}"
    data = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"_id": "a", "title": "Solar", "text": "Panels turn light into power."}),
        "{not json",
        json.dumps({"_id": "b", "title": "Wind", "text": "Turbines spin generators."}),
        json.dumps({"_id": "c", "title": "", "text": ""}),
    ]
    data.write_text("\n".join(lines) + "\n")
    try:
        first = tandem("index", str(data), "--index", name, "--server", engine_sidecar.address)
        assert first.returncode == 1, first.stderr  # some documents failed
        assert "indexed 2," in first.stdout and "failed 2" in first.stdout
        assert "invalid JSON" in first.stdout and "docs.jsonl:2" in first.stdout
        again = tandem(
            "index", str(data), "--index", name, "--server", engine_sidecar.address, "--resume"
        )
        assert "indexed 0, skipped 2" in again.stdout
        hits = engine_sidecar_client.search(name, "sunlight energy").hits
        assert {h.id for h in hits} == {"a", "b"}
    finally:
        engine_sidecar_client.delete_index(name)


@pytest.mark.newest_engines
def test_index_through_the_sidecar_shows_progress_and_stops_on_ctrl_c(
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
    engine_client: Any,
    tmp_path: Path,
) -> None:
    """Progress counts documents indexed from the first answer; Ctrl-C ends the stream,
    prints what was done and how to resume, and the sidecar stops writing."""
    name = f"tandem-cli-ingest-{uuid.uuid4().hex[:8]}"
    data = tmp_path / "docs.jsonl"
    # Long enough texts that the ingest takes tens of seconds even on a quiet machine.
    body = " ".join(f"passage{j} about hybrid retrieval" for j in range(20))
    lines = (json.dumps({"_id": f"d{i}", "text": f"document {i} {body}"}) for i in range(3000))
    data.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tandem.plugin.cli import main; raise SystemExit(main())",
            *("index", str(data), "--index", name, "--server", engine_sidecar.address),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A background CI job inherits SIGINT ignored; a user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stderr is not None
        line = ""
        deadline = time.monotonic() + 120
        while not line.startswith("indexed") and time.monotonic() < deadline:
            line = process.stderr.readline()
        assert line.startswith("indexed ") and "/3,000" in line, line  # from the first answer
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "interrupted: indexed" in err and "--resume" in err
        time.sleep(2)  # what the sidecar had in flight settles
        engine_client.indices.refresh(index=name)
        stored = engine_client.count(index=name)["count"]
        time.sleep(3)
        engine_client.indices.refresh(index=name)
        assert engine_client.count(index=name)["count"] == stored < 3000  # it stopped writing
    finally:
        if process.poll() is None:
            process.kill()
        # Straight to the engine: a cleanup that fails must not hide what the test found.
        engine_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.mark.parametrize(
    "flags", [("--engine", "elasticsearch"), ("--dense", "bge-small"), ("--sparse", "none")]
)
def test_index_refuses_flags_for_this_process_with_server(
    flags: tuple[str, str], tmp_path: Path
) -> None:
    """The sidecar indexes with its own engine and models: a flag that picks them here
    would be ignored, so it is refused before anything is read or sent."""
    data = tmp_path / "docs.jsonl"
    data.write_text('{"_id": "1", "title": "a", "text": "b"}\n')
    done = tandem("index", str(data), "--index", "x", "--server", "127.0.0.1:1", *flags)
    assert done.returncode == 2, done.stderr
    assert flags[0] in done.stderr and "tandem serve" in done.stderr
    assert "without --server" in done.stderr

"""``tandem search`` as a user runs it, in this process and through a sidecar (``--server``).

Every test that searches runs both ways (``where``): the flags, the errors and the
``--json`` envelope must be the same whichever process does the work.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from tandem.client import ClientError, SearchOptions, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.search.names import Method
from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import tandem

DOCS = [
    {"_id": "solar", "body": "Solar panels turn sunlight into electricity.", "kind": "energy"},
    {"_id": "wind", "body": "Wind turbines spin generators on windy hills.", "kind": "energy"},
    {"_id": "bread", "body": "Sourdough bread rises with wild yeast overnight.", "kind": "food"},
]
WHERE = ["here", "server"]


@pytest.fixture(scope="module")
def body_index(engine: EngineHandle, engine_client: Any, tmp_path_factory: Any) -> Iterator[str]:
    """An index written by ``tandem index --text-fields body``: its text is in ``body``."""
    name = f"tandem-search-cli-{uuid.uuid4().hex[:8]}"
    data = tmp_path_factory.mktemp("docs") / "docs.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    done = tandem(
        "index", str(data), "--index", name, "--engine", engine.url, "--text-fields", "body"
    )
    assert done.returncode == 0, done.stderr
    yield name
    engine_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture(scope="module")
def plain_index(engine_client: Any) -> Iterator[str]:
    """An index Tandem did not write: text fields only, no vector or sparse field."""
    name = f"tandem-search-plain-{uuid.uuid4().hex[:8]}"
    mappings = {"properties": {"title": {"type": "text"}, "text": {"type": "text"}}}
    engine_client.indices.create(index=name, body={"mappings": mappings})
    engine_client.index(
        index=name, id="solar", body={"title": "Solar", "text": "panels"}, refresh=True
    )
    yield name
    engine_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture(scope="module")
def custom_index(engine_sidecar_client: TandemClient) -> Iterator[str]:
    """Vectors in fields named ``vec`` and ``terms`` rather than the defaults."""
    name = f"tandem-search-custom-{uuid.uuid4().hex[:8]}"
    engine_sidecar_client.create_index(
        {
            "name": name,
            "fields": [
                {"name": "body", "type": "text"},
                {"name": "vec", "type": "dense"},
                {"name": "terms", "type": "sparse"},
            ],
        }
    )
    docs = [{"_id": d["_id"], "body": d["body"]} for d in DOCS]
    assert engine_sidecar_client.index_documents(name, docs, text_fields=("body",)).indexed == 3
    yield name
    engine_sidecar_client.delete_index(name)


def search(
    where: str, engine: EngineHandle, sidecar: EmbeddedSidecar, *args: str
) -> subprocess.CompletedProcess[str]:
    """``tandem search ARGS`` in this process (``--engine``) or through the sidecar."""
    target = ["--engine", engine.url] if where == "here" else ["--server", sidecar.address]
    return tandem("search", *target, *args)


def on(
    where: str, engine: EngineHandle, sidecar: EmbeddedSidecar, index: str
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run(*args)``: ``tandem search --index INDEX ARGS``, ``where`` says how."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return search(where, engine, sidecar, "--index", index, *args)

    return run


def envelope(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def ids(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [h["id"] for h in envelope(done)["hits"]]


def error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr


# --- point 9: fields, filters, the user's DSL, vector field names -----------------------------


@pytest.mark.parametrize("where", WHERE)
def test_text_fields_let_bm25_find_an_index_written_with_text_fields_body(
    where: str, engine: EngineHandle, engine_sidecar: EmbeddedSidecar, body_index: str
) -> None:
    run = on(where, engine, engine_sidecar, body_index)
    found = run("--method", "bm25", "--text-fields", "body", "--json", "sourdough bread")
    assert ids(found) == ["bread"]
    # without the flag BM25 searches title and text, which this index lacks: said, not 0 hits
    told = error(run("--method", "bm25", "sourdough bread"))
    assert "has none of the text fields 'title', 'text' for the bm25 retriever" in told
    assert "--text-fields" in told
    fused = run(
        "--method", "rrf", "--mode", "sidecar", "--text-fields", "body", "--explain", "--json",
        "sourdough bread",
    )  # fmt: skip
    top = envelope(fused)["hits"][0]
    assert top["id"] == "bread" and "bm25" in top["retrievers"]


@pytest.mark.parametrize("where", WHERE)
def test_filters_apply_to_every_retriever_and_repeat(
    where: str, engine: EngineHandle, engine_sidecar: EmbeddedSidecar, body_index: str
) -> None:
    run = on(where, engine, engine_sidecar, body_index)
    not_solar = json.dumps({"bool": {"must_not": [{"ids": {"values": ["solar"]}}]}})
    not_wind = json.dumps({"bool": {"must_not": [{"ids": {"values": ["wind"]}}]}})
    for method in ("rrf", "bm25", "dense", "sparse"):
        one = ids(run("--method", method, "--text-fields", "body", "--filter", not_solar,
                      "--json", "solar panels sunlight"))  # fmt: skip
        assert "solar" not in one, method
        both = ids(run("--method", method, "--text-fields", "body", "--filter", not_solar,
                       "--filter", not_wind, "--json", "solar wind bread energy"))  # fmt: skip
        assert set(both) <= {"bread"}, method
    bad = error(run("--filter", "{not json", "solar"))
    assert "--filter #1 is not valid JSON" in bad
    empty = error(run("--filter", "{}", "solar"))
    assert "--filter #1" in empty and "query clause" in empty


@pytest.mark.parametrize("where", WHERE)
def test_dsl_runs_the_retrievers_inside_the_users_query(
    where: str,
    engine: EngineHandle,
    engine_sidecar: EmbeddedSidecar,
    body_index: str,
    tmp_path: Path,
) -> None:
    run = on(where, engine, engine_sidecar, body_index)
    dsl = tmp_path / "query.json"
    clause = {"query": "energy from the sun", "fields": ["body"], "method": "rrf"}
    dsl.write_text(
        json.dumps(
            {"bool": {"must": [{"tandem": clause}], "filter": [{"term": {"kind": "energy"}}]}}
        )
    )
    found = envelope(run("--dsl", str(dsl), "--mode", "sidecar", "--explain", "--json"))
    assert found["hits"][0]["id"] == "solar"
    assert {h["id"] for h in found["hits"]} <= {"solar", "wind"}
    assert found["query"] == "energy from the sun" and found["method"] == "rrf"
    both = error(run("--dsl", str(dsl), "solar"))
    assert "QUERY or --dsl, not both" in both
    neither = error(run())
    assert "QUERY" in neither and "--dsl" in neither
    dsl.write_text(json.dumps({"match_all": {}}))
    no_clause = error(run("--dsl", str(dsl)))
    assert "--dsl" in no_clause and "'tandem' clause" in no_clause
    missing = error(run("--dsl", str(tmp_path / "nowhere.json")))
    assert "--dsl" in missing and "nowhere.json" in missing


@pytest.mark.parametrize("where", WHERE)
def test_dense_and_sparse_field_names(
    where: str, engine: EngineHandle, engine_sidecar: EmbeddedSidecar, custom_index: str
) -> None:
    run = on(where, engine, engine_sidecar, custom_index)
    dense = run("--method", "dense", "--dense-field", "vec", "--json", "energy from sunlight")
    assert ids(dense)[0] == "solar"
    sparse = run("--method", "sparse", "--sparse-field", "terms", "--json", "sunlight panels")
    assert ids(sparse)[0] == "solar"
    fused = run(
        "--dense-field", "vec", "--sparse-field", "terms", "--text-fields", "body", "--json",
        "solar panels",
    )  # fmt: skip
    assert ids(fused)[0] == "solar"
    told = error(run("--method", "dense", "energy from sunlight"))
    assert f"index '{custom_index}' has no field 'embedding' for the dense retriever" in told
    assert "--dense-field" in told


# --- point 10: a missing field is named, with what to do ------------------------------------


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize(
    ("method", "field", "flag"),
    [("dense", "embedding", "--dense-field"), ("sparse", "sparse", "--sparse-field")],
)
def test_an_index_without_tandems_fields_names_the_missing_field(
    where: str,
    method: str,
    field: str,
    flag: str,
    engine: EngineHandle,
    engine_sidecar: EmbeddedSidecar,
    plain_index: str,
) -> None:
    told = error(search(where, engine, engine_sidecar, "--index", plain_index, "--method", method,
                        "solar"))  # fmt: skip
    assert f"index '{plain_index}' has no field '{field}' for the {method} retriever" in told
    assert flag in told and "--method bm25" in told
    assert "all shards failed" not in told
    for mode in ("native", "sidecar", "auto"):
        fused = search(where, engine, engine_sidecar, "--index", plain_index, "--mode", mode,
                       "solar")  # fmt: skip
        text = fused.stderr
        assert fused.returncode == 2, (mode, text)
        # the engine's own fusion may be missing here (licence): then that is the message
        assert "has no field 'embedding' for the dense retriever" in text or (
            mode == "native" and "licen" in text
        ), (mode, text)


def test_the_sidecar_answers_a_missing_field_with_failed_precondition(
    engine_sidecar_client: TandemClient, plain_index: str
) -> None:
    methods: tuple[Method, ...] = ("dense", "sparse", "rrf")
    for method in methods:
        with pytest.raises(ClientError) as caught:
            engine_sidecar_client.search(
                plain_index, "solar", SearchOptions(method=method, mode="sidecar")
            )
        assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION
        assert "has no field" in caught.value.details
        assert "dense_field" in caught.value.details or "sparse_field" in caught.value.details


# --- point 11: flags --server cannot honour are refused -------------------------------------


@pytest.mark.parametrize(
    "flags",
    [("--engine", "elasticsearch"), ("--dense", "minilm"), ("--sparse", "splade-tiny")],
)
def test_flags_for_this_process_are_refused_with_server(
    flags: tuple[str, str], engine_sidecar: EmbeddedSidecar
) -> None:
    told = error(
        tandem("search", "--server", engine_sidecar.address, "--index", "x", *flags, "solar")
    )
    assert flags[0] in told and "--server" in told and "tandem serve" in told
    # the same through TANDEM_SERVER, which is --server by another name
    env = {"TANDEM_SERVER": engine_sidecar.address}
    again = error(tandem("search", "--index", "x", *flags, "solar", env=env))
    assert flags[0] in again and "TANDEM_SERVER" in again


# --- point 15 and the empty query: errors in the user's terms -------------------------------


@pytest.mark.parametrize("where", WHERE)
def test_page_errors_name_the_flags(
    where: str, engine: EngineHandle, engine_sidecar: EmbeddedSidecar, body_index: str
) -> None:
    run = on(where, engine, engine_sidecar, body_index)
    told = error(run("--size", "200", "--window", "100", "solar"))
    assert "--window (100) must cover --from + --size (200)" in told
    assert error(run("--from", "-1", "solar")).count("--from must be >= 0") == 1
    too_far = error(run("--from", "9995", "--size", "10", "solar"))
    assert "--from + --size is 10005" in too_far
    # without --window, the window grows to cover the page (as over gRPC)
    assert envelope(run("--size", "200", "--text-fields", "body", "--json", "solar"))["hits"]
    explain = error(run("--mode", "native", "--explain", "solar"))
    assert "--explain" in explain and "--mode sidecar" in explain


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("method", ["bm25", "dense", "rrf"])
def test_an_empty_query_is_one_error(
    where: str, method: str, engine: EngineHandle, engine_sidecar: EmbeddedSidecar, body_index: str
) -> None:
    for text in ("", "   "):
        told = error(search(where, engine, engine_sidecar, "--index", body_index, "--method",
                            method, text))  # fmt: skip
        assert told == "tandem: error: QUERY is empty: give the text to search for, " \
            "or --dsl FILE with a tandem clause\n"  # fmt: skip


# --- output: the JSON envelope, scores and snippets -----------------------------------------


def _float32(score: float) -> bool:
    return float(str(np.float32(score))) == score


@pytest.mark.parametrize("mode", ["native", "sidecar"])
def test_the_json_envelope_is_the_same_in_process_and_through_the_sidecar(
    mode: str, engine: EngineHandle, engine_sidecar: EmbeddedSidecar, body_index: str
) -> None:
    shapes = {}
    for where in WHERE:
        done = search(where, engine, engine_sidecar, "--index", body_index, "--mode", mode,
                      "--text-fields", "body", "--json", "--size", "3", "solar energy")  # fmt: skip
        if done.returncode == 2 and "licen" in done.stderr:  # no native fusion on this licence
            continue
        result = envelope(done)
        assert set(result) == {
            "index", "query", "method", "mode", "server", "partial", "timed_out",
            "shard_failures", "timings", "hits",
        }  # fmt: skip
        assert set(result["timings"]) == {"encode_ms", "engine_ms", "total_ms"}
        assert result["mode"] == mode and result["partial"] is False
        assert result["server"] == (engine_sidecar.address if where == "server" else None)
        hits = result["hits"]
        assert [h["rank"] for h in hits] == [1, 2, 3]
        for hit in hits:
            assert set(hit) == {"rank", "id", "score", "retrievers", "snippet"}
            assert _float32(hit["score"]), hit
            assert all(_float32(r["score"]) for r in hit["retrievers"].values())
        shapes[where] = [(h["id"], h["score"]) for h in hits]
    if len(shapes) == 2:
        # float32 everywhere: the same hits carry the same scores, whichever process fused them
        assert shapes["here"] == shapes["server"]


def test_hits_show_a_title_or_the_start_of_the_text(
    engine: EngineHandle, engine_sidecar: EmbeddedSidecar, body_index: str, plain_index: str
) -> None:
    body = search("here", engine, engine_sidecar, "--index", body_index, "--text-fields", "body",
                  "--method", "bm25", "sourdough")  # fmt: skip
    assert body.returncode == 0, body.stderr
    (line,) = body.stdout.splitlines()
    assert line.split()[2] == "bread"
    assert line.endswith("Sourdough bread rises with wild yeast overnight.")
    titled = search("here", engine, engine_sidecar, "--index", plain_index, "--method", "bm25",
                    "--json", "solar")  # fmt: skip
    assert envelope(titled)["hits"][0]["snippet"] == "Solar"

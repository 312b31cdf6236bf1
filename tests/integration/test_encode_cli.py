"""``tandem encode`` through a real sidecar: the same flags and JSON as ``tandem models encode``,
and an IDF table built by ``tandem models idf`` serving sparse queries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tandem.encoders.idf import IdfTable
from tandem.plugin.server.embedded import EmbeddedSidecar

from .cli import tandem
from .sidecar import start_sidecar


def _lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_both_encode_commands_print_the_same_keys_and_vectors(
    encoding_sidecar: EmbeddedSidecar,
) -> None:
    flags = ("--kind", "dense", "--input", "query", "hybrid search")
    remote = tandem("encode", "--server", encoding_sidecar.address, *flags)
    local = tandem("models", "encode", "minilm", *flags)
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    (sent,), (here,) = _lines(remote.stdout), _lines(local.stdout)
    assert set(sent) == set(here) == {"text", "dense"}
    np.testing.assert_allclose(sent["dense"], here["dense"], atol=1e-5)  # type: ignore[arg-type]


def test_sparse_terms_with_the_same_flags_on_both_commands(
    encoding_sidecar: EmbeddedSidecar,
) -> None:
    flags = ("--kind", "sparse", "--top-k", "3", "cell biology")
    remote = tandem("encode", "--server", encoding_sidecar.address, *flags)
    local = tandem("models", "encode", "splade-tiny", *flags)
    assert remote.returncode == 0, remote.stderr
    (sent,), (here,) = _lines(remote.stdout), _lines(local.stdout)
    assert set(sent) == set(here) == {"text", "sparse"}
    assert list(sent["sparse"]) == list(here["sparse"])  # type: ignore[call-overload]


def test_the_old_switches_still_work_and_say_what_to_write(
    encoding_sidecar: EmbeddedSidecar,
) -> None:
    done = tandem("encode", "--server", encoding_sidecar.address, "--sparse", "--query", "x ray")
    assert done.returncode == 0, done.stderr
    assert "sparse" in _lines(done.stdout)[0]
    assert "use --kind sparse" in done.stderr and "use --input query" in done.stderr


def test_an_idf_table_from_tandem_models_idf_serves_sparse_queries(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    texts = ["hybrid search with sparse vectors", "dense vectors", "sparse lexical search"]
    corpus.write_text(
        "".join(json.dumps({"_id": str(i), "text": t}) + "\n" for i, t in enumerate(texts))
    )
    out = tmp_path / "idf.json"
    built = tandem("models", "idf", str(corpus), "--out", str(out))
    assert built.returncode == 0, built.stderr
    table = IdfTable.from_json(out)

    sidecar = start_sidecar(dense="none", idf=out, metrics_port=-1)
    try:
        done = tandem(
            "encode", "--server", sidecar.address, "--kind", "sparse", "--input", "query",
            "sparse search",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        (line,) = _lines(done.stdout)
        assert line["sparse"] == pytest.approx({t: table.idf[t] for t in ("sparse", "search")})
        assert "inference 0.0 ms" in done.stderr  # the tokenizer and the table, no model run
    finally:
        sidecar.stop()

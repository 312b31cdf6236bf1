"""``tandem models`` as a user runs it: real PyPI pulls, real exports, JSON lines out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tandem.encoders.idf import IdfTable
from tandem.encoders.loader import ensure_onnx, load_dense, text_batcher
from tandem.encoders.registry import KNOWN_MODELS, InputKind, resolve_spec
from tandem.encoders.sources import checkpoint_dir

from .cli import tandem


def test_encode_dense_json_lines() -> None:
    result = tandem("models", "encode", "minilm", "heart attack", "protein folding", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["heart attack", "protein folding"]
    vectors = np.asarray([line["dense"] for line in lines])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    in_process = load_dense(KNOWN_MODELS["minilm"]).encode(["heart attack"])
    np.testing.assert_allclose(vectors[0], in_process[0], atol=1e-6)


def test_encode_sparse_json_lines_with_pruning() -> None:
    result = tandem(
        "models", "encode", "splade-tiny", "what causes heart attacks", "--top-k", "5", "--json"
    )
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert set(line) == {"text", "sparse"}  # the keys tandem encode prints
    terms = line["sparse"]
    assert list(terms)[:2] == ["heart", "causes"]
    assert len(terms) == 5
    assert list(terms.values()) == sorted(terms.values(), reverse=True)


def test_encode_int8_and_list() -> None:
    result = tandem("models", "encode", "minilm", "heart attack", "--int8", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(tandem("models", "list", "--json").stdout)
    minilm = next(row for row in listing if row["name"] == "minilm")
    assert minilm["pulled"] and minilm["onnx_bytes"] > 50e6 and 10e6 < minilm["int8_bytes"] < 40e6


def test_unknown_package_fails_clearly(tmp_path: Path) -> None:
    result = tandem(
        "models", "encode", "no-such-model", "x", env={"TANDEM_CACHE_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert "unknown model 'no-such-model'" in result.stderr and "minilm" in result.stderr


def test_empty_text_is_a_clear_error() -> None:
    result = tandem("models", "encode", "minilm", "", "--json")
    assert result.returncode == 2
    assert "text 0 is empty" in result.stderr


def test_local_folder_holding_an_onnx_file(tmp_path: Path) -> None:
    spec = KNOWN_MODELS["minilm"]
    folder = tmp_path / "my-minilm"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(checkpoint_dir(spec) / name, folder / name)
    shutil.copy(ensure_onnx(spec), folder / "model.onnx")  # no safetensors at all
    local = resolve_spec(str(folder))
    got = load_dense(local).encode(["heart attack"])
    want = load_dense(spec).encode(["heart attack"])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_export_prints_size_time_and_parity() -> None:
    result = tandem("models", "export", "splade-tiny", "--int8")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "MB" in out and "export time" in out and "fully fused" in out
    assert "fused vs unfused graph: max |error|" in out
    assert "int8 vs fp32" in out


def test_encode_reads_texts_from_stdin_and_names_kind_and_input_like_tandem_encode() -> None:
    result = tandem(
        "models", "encode", "minilm", "-", "--input", "query", input="heart attack\n\nfever\n"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["heart attack", "fever"]
    query = load_dense(KNOWN_MODELS["minilm"]).encode(["heart attack"], InputKind.QUERY)
    np.testing.assert_allclose(lines[0]["dense"], query[0], atol=1e-6)

    mixed_up = tandem("models", "encode", "minilm", "x", "--kind", "query")
    assert mixed_up.returncode == 2 and "use --input query" in mixed_up.stderr


def _corpus(folder: Path) -> Path:
    path = folder / "corpus.jsonl"
    docs = [
        {"_id": "1", "title": "Sparse search", "text": "hybrid search with sparse vectors"},
        {"_id": "2", "title": "", "text": "dense vectors"},
        {"_id": "3", "text": "sparse lexical search"},
        {"_id": "4", "title": 7},  # not a document: its title is not text
    ]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def test_idf_counts_the_corpus_with_the_sparse_tokenizer(tmp_path: Path) -> None:
    _corpus(tmp_path)  # a BEIR folder: DATA reads as tandem index reads it
    out = tmp_path / "idf.json"
    result = tandem("models", "idf", str(tmp_path), "--out", str(out), "--sparse", "splade-tiny")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and "over 3 documents" in result.stdout
    assert "skipped 1 records" in result.stderr and "corpus.jsonl:4" in result.stderr

    table = IdfTable.from_json(out)
    passages = [
        "Sparse search hybrid search with sparse vectors",
        "dense vectors",
        "sparse lexical search",
    ]
    expected = IdfTable.from_corpus(text_batcher(KNOWN_MODELS["splade-tiny"]), passages)
    assert table.idf == pytest.approx(expected.idf)
    assert table.idf["dense"] > table.idf["search"]  # in one document against two

    only_ids = tmp_path / "ids.jsonl"
    only_ids.write_text('{"_id": "1"}\n')
    empty = tandem("models", "idf", str(only_ids), "--out", str(tmp_path / "none.json"))
    assert empty.returncode == 2 and "check --text-fields" in empty.stderr
    assert "Traceback" not in empty.stderr

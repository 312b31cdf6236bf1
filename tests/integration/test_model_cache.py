"""The model cache is keyed by checkpoint content: real MiniLM copies, real exports.

Two folders with the same base name, a checkpoint edited in place, and ``tandem models list``
over a cache that holds local-folder exports. Each test gets its own cache root, so nothing
here depends on (or disturbs) what other tests left in the shared cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.export import export_bert
from tandem.encoders.loader import load_dense, text_batcher
from tandem.encoders.registry import KNOWN_MODELS, ModelSpec, resolve_spec
from tandem.encoders.session import OnnxModel
from tandem.encoders.sources import pull

from .cli import tandem

TEXTS = ["what causes heart attacks", "protein folding in cells", "a quiet walk by the sea"]


@pytest.fixture(scope="module")
def minilm_folder() -> Path:
    """The pulled MiniLM checkpoint in the shared cache (read only: tests copy it)."""
    return pull(KNOWN_MODELS["minilm"])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minilm_folder: Path) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("TANDEM_CACHE_DIR", str(root))
    return root


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _perturb(folder: Path, seed: int = 0) -> None:
    """Add noise to the word embeddings: same shapes and file size, different outputs."""
    from safetensors.numpy import load_file, save_file

    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    key = next(k for k in tensors if k.endswith("word_embeddings.weight"))
    noise = np.random.default_rng(seed).normal(0.0, 0.05, tensors[key].shape)
    tensors[key] = (tensors[key] + noise).astype(tensors[key].dtype)
    save_file(tensors, str(path), metadata={"format": "pt"})


def _reference(spec: ModelSpec, folder: Path, scratch: Path) -> np.ndarray:
    """Vectors from a fresh export of ``folder`` that bypasses the cache."""
    report = export_bert(folder, scratch, "base")
    return DenseEncoder(spec, OnnxModel(report.path), text_batcher(spec)).encode(TEXTS)


def _encode(folder: Path, int8: bool = False) -> tuple[np.ndarray, list[str]]:
    said: list[str] = []
    vectors = load_dense(resolve_spec(str(folder)), int8=int8, progress=said.append).encode(TEXTS)
    return vectors, said


def test_two_folders_with_one_name_get_their_own_exports(
    cache: Path, tmp_path: Path, minilm_folder: Path
) -> None:
    first = _copy(minilm_folder, tmp_path / "a" / "checkpoint")
    second = _copy(minilm_folder, tmp_path / "b" / "checkpoint")
    _perturb(second)
    got_first, _ = _encode(first)
    got_second, said = _encode(second)
    cosines = np.sum(got_first * got_second, axis=1)
    assert cosines.max() < 0.99, cosines
    assert any("exporting" in line for line in said), said  # not served from the first export
    spec = resolve_spec(str(second))
    np.testing.assert_allclose(got_second, _reference(spec, second, tmp_path / "ref"), atol=1e-5)


def test_a_checkpoint_edited_in_place_is_exported_again(
    cache: Path, tmp_path: Path, minilm_folder: Path
) -> None:
    folder = _copy(minilm_folder, tmp_path / "checkpoint")
    before, _ = _encode(folder)
    before_int8, _ = _encode(folder, int8=True)
    again, said = _encode(folder, int8=True)
    assert said == []  # unchanged: the fp32 and int8 exports are reused
    np.testing.assert_array_equal(again, before_int8)

    _perturb(folder)
    after, said = _encode(folder)
    assert any("exporting" in line for line in said), said
    assert np.sum(before * after, axis=1).max() < 0.99
    spec = resolve_spec(str(folder))
    np.testing.assert_allclose(after, _reference(spec, folder, tmp_path / "ref"), atol=1e-5)
    after_int8, said = _encode(folder, int8=True)
    assert any("quantising" in line for line in said), said
    assert np.sum(before_int8 * after_int8, axis=1).max() < 0.99
    assert np.sum(after * after_int8, axis=1).min() > 0.98  # the int8 model of the new weights


def test_list_shows_local_exports_with_their_source(
    cache: Path, tmp_path: Path, minilm_folder: Path
) -> None:
    first = _copy(minilm_folder, tmp_path / "a" / "checkpoint")
    second = _copy(minilm_folder, tmp_path / "b" / "checkpoint")
    _perturb(second)
    _encode(first)
    _encode(second, int8=True)
    _perturb(second, seed=1)  # the second export is now stale

    result = tandem("models", "list", "--json", env={"TANDEM_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["name"] for row in rows} >= set(KNOWN_MODELS) | {"checkpoint"}
    local = {row["path"]: row for row in rows if row["name"] == "checkpoint"}
    assert set(local) == {str(first), str(second)}
    assert local[str(first)]["current"] and local[str(first)]["kind"] == "dense"
    assert local[str(first)]["onnx_bytes"] > 50e6 and local[str(first)]["int8_bytes"] is None
    assert not local[str(second)]["current"] and local[str(second)]["int8_bytes"] > 10e6
    assert local[str(first)]["export"] != local[str(second)]["export"]

    table = tandem("models", "list", env={"TANDEM_CACHE_DIR": str(cache)})
    assert table.returncode == 0, table.stderr
    assert str(first) in table.stdout and str(second) in table.stdout
    assert "stale" in table.stdout


def test_list_survives_cache_entries_it_did_not_make(cache: Path) -> None:
    # What earlier versions left: a local folder's export cached under its base name.
    legacy = cache / "models" / "checkpoint" / "onnx"
    legacy.mkdir(parents=True)
    (legacy / "model.onnx").write_bytes(b"not really onnx")
    (cache / "models" / "stray-file").write_text("x")
    result = tandem("models", "list", "--json", env={"TANDEM_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(KNOWN_MODELS) <= set(rows)
    assert rows["checkpoint"]["path"] == str(cache / "models" / "checkpoint")
    assert "safe to delete" in rows["checkpoint"]["source"]

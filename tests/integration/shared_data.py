"""Locate ``../shared`` (golden fixtures, evaluation data) without copying it."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tandem.integration.pytest_plugin import in_ci

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("TANDEM_SHARED_DIR", REPO.parent / "shared"))


def scifact_corpus(count: int) -> list[dict[str, Any]]:
    """The first ``count`` SciFact documents (``_id``, ``title``, ``text``), each with a
    ``year`` (2000 to 2019, in turn) to filter on."""
    with (shared_dir() / "data" / "scifact" / "corpus.jsonl").open() as lines:
        docs = [json.loads(line) for line in itertools.islice(lines, count)]
    for i, doc in enumerate(docs):
        doc["year"] = 2000 + i % 20
    return docs


def load_fixture(name: str) -> dict[str, Any]:
    path = shared_dir() / "fixtures" / name
    if not path.is_file():
        message = f"golden fixture {path} is missing (set TANDEM_SHARED_DIR)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    data: dict[str, Any] = json.loads(path.read_text())
    return data

"""Locate ``../shared`` (golden fixtures, evaluation data) without copying it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tandem.integration.pytest_plugin import in_ci

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("TANDEM_SHARED_DIR", REPO.parent / "shared"))


def load_fixture(name: str) -> dict[str, Any]:
    path = shared_dir() / "fixtures" / name
    if not path.is_file():
        message = f"golden fixture {path} is missing (set TANDEM_SHARED_DIR)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    data: dict[str, Any] = json.loads(path.read_text())
    return data

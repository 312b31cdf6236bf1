"""Marks every test by its folder and loads the engine fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tandem.integration.pytest_plugin"]

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        suite = Path(item.path).relative_to(_HERE).parts[0]
        if suite in ("unit", "integration"):
            item.add_marker(suite)

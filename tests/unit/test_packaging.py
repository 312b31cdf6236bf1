"""Every Python folder ships: the package list in pyproject.toml is written by hand."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = {
    "plugin": "tandem.plugin",
    "encoders": "tandem.encoders",
    "integration": "tandem.integration",
}


def test_every_package_folder_is_declared() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    found = set()
    for folder, package in ROOTS.items():
        assert config["package-dir"][package] == folder
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((package, *relative)))
    assert found == declared, f"add to [tool.setuptools] packages: {sorted(found - declared)}"

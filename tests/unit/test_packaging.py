"""Every Python folder ships: the package list in pyproject.toml is written by hand."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _package_of(folder: Path, roots: dict[Path, str]) -> str:
    """The import name of ``folder``, from the most specific package-dir mapping above it."""
    root = max((r for r in roots if folder == r or r in folder.parents), key=lambda r: len(r.parts))
    return ".".join((roots[root], *folder.relative_to(root).parts))


def test_every_package_folder_is_declared() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    roots = {REPO / folder: package for package, folder in config["package-dir"].items()}
    assert set(roots.values()) <= declared
    found = {
        _package_of(init.parent, roots) for root in roots for init in root.rglob("__init__.py")
    }
    assert found == declared, f"add to [tool.setuptools] packages: {sorted(found - declared)}"


def test_the_fixed_top_level_folders_map_into_the_tandem_namespace() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    assert mapping["tandem.plugin"] == "plugin"
    assert mapping["tandem.encoders"] == "encoders"
    assert mapping["tandem.integration"] == "integration"
    assert mapping["tandem.v1"] == "proto/tandem/v1"
    assert all(package.startswith("tandem.") for package in config["packages"])

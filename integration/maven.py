"""Fetch engine artifacts from Maven Central's layout over HTTPS; no ``mvn`` needed.

Files are verified (see :mod:`.download`) and cached flat under the launcher's
``artifacts`` folder by file name, so a cache filled once serves every later
install, offline too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .download import Repository, download
from .pom import Pom, parse_pom, runtime_dependencies
from .specs import MavenArtifact

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def artifact_path(artifact: MavenArtifact) -> str:
    """Where Maven's repository layout keeps ``artifact``, relative to the root."""
    group = artifact.group.replace(".", "/")
    return f"{group}/{artifact.artifact}/{artifact.version}/{artifact.filename}"


def fetch(
    artifact: MavenArtifact,
    cache: Path,
    log_path: Path | None = None,
    progress: Progress = _quiet,
    repository: Repository | None = None,
) -> Path:
    """Return the cached artifact file, downloading and verifying it first if needed."""
    repo = repository or Repository.from_env()
    target = cache / artifact.filename
    path = artifact_path(artifact)
    return download(repo, path, target, progress, log_path, artifact.coordinates)


def fetch_with_dependencies(
    artifact: MavenArtifact,
    exclusions: tuple[str, ...],
    dest: Path,
    cache: Path,
    log_path: Path | None = None,
    progress: Progress = _quiet,
    repository: Repository | None = None,
) -> list[Path]:
    """Copy ``artifact`` and its runtime dependencies into ``dest``.

    ``exclusions`` are ``group:artifact`` patterns (``*`` matches any artifact)
    pruned from the dependency tree together with everything only they pull in.
    """
    repo = repository or Repository.from_env()

    def load(pom: MavenArtifact) -> Pom:
        path = fetch(pom, cache, log_path, progress, repo)
        return parse_pom(path.read_bytes(), pom.coordinates)

    patterns = [(group, name) for group, _, name in (p.partition(":") for p in exclusions)]
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for jar in runtime_dependencies(artifact, patterns, load):
        cached = fetch(jar, cache, log_path, progress, repo)
        copied.append(Path(shutil.copy2(cached, dest / jar.filename)))
    return sorted(copied)

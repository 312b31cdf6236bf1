"""Fetch engine artifacts from Maven Central with ``mvn dependency:copy``."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import ArtifactNotFoundError, EngineError, ToolMissingError
from .specs import MavenArtifact

_NOT_FOUND_MARKERS = ("Could not find artifact", "could not be resolved", "was not found in")


def find_maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissingError(
            "Maven ('mvn') is not on PATH. Tandem fetches engines from Maven Central with "
            "'mvn dependency:copy': install Maven (Debian: apt-get install maven) or point "
            "TANDEM_OPENSEARCH_URL / TANDEM_ELASTICSEARCH_URL at a running engine."
        )
    return mvn


def _run_maven(args: list[str], java_home: Path, log_path: Path, what: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {"JAVA_HOME": str(java_home), "PATH": f"{java_home / 'bin'}:/usr/bin:/bin"}
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(args)}\n")
        log.flush()
        result = subprocess.run(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, check=False, timeout=1800
        )
    if result.returncode == 0:
        return
    text = log_path.read_text(errors="replace")
    if any(marker in text for marker in _NOT_FOUND_MARKERS):
        raise ArtifactNotFoundError(
            f"{what} is not available on Maven Central (or the configured mirror). "
            f"Pick a version listed in docs/engines.md. Maven's log: {log_path}"
        )
    raise EngineError(
        f"Maven failed while fetching {what} (exit {result.returncode}); log: {log_path}"
    )


def fetch(artifact: MavenArtifact, cache: Path, java_home: Path, log_path: Path) -> Path:
    """Return the cached artifact file, downloading it first if needed."""
    target = cache / artifact.filename
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    mvn = find_maven()
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        _run_maven(
            [
                mvn,
                "-B",
                "-ntp",
                "dependency:copy",
                f"-Dartifact={artifact.coordinates}",
                f"-DoutputDirectory={tmp}",
            ],
            java_home,
            log_path,
            artifact.coordinates,
        )
        Path(tmp, artifact.filename).replace(target)
    return target


def fetch_with_dependencies(
    artifact: MavenArtifact,
    exclusions: tuple[str, ...],
    dest: Path,
    java_home: Path,
    log_path: Path,
) -> list[Path]:
    """Copy ``artifact`` and its runtime dependencies into ``dest``.

    ``exclusions`` are ``group:artifact`` patterns (``*`` matches any artifact)
    pruned from the dependency tree together with everything only they pull in.
    Maven needs a project to resolve transitive dependencies, so a throwaway
    POM declaring the one artifact is written to a temporary folder.
    """
    mvn = find_maven()
    dest.mkdir(parents=True, exist_ok=True)
    excluded = "".join(
        f"<exclusion><groupId>{group}</groupId><artifactId>{name}</artifactId></exclusion>"
        for group, _, name in (pattern.partition(":") for pattern in exclusions)
    )
    with tempfile.TemporaryDirectory(prefix="tandem-pom-") as tmp:
        pom = Path(tmp, "pom.xml")
        pom.write_text(
            f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tandem.fetch</groupId><artifactId>module</artifactId><version>0</version>
  <dependencies><dependency>
    <groupId>{artifact.group}</groupId><artifactId>{artifact.artifact}</artifactId>
    <version>{artifact.version}</version><type>{artifact.packaging}</type>
    <exclusions>{excluded}</exclusions>
  </dependency></dependencies>
</project>
"""
        )
        _run_maven(
            [
                mvn,
                "-B",
                "-ntp",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={dest}",
            ],
            java_home,
            log_path,
            f"{artifact.coordinates} with its dependencies",
        )
    return sorted(dest.glob("*.jar"))

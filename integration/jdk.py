"""Find installed JDKs and pick the one an engine line runs on."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolMissingError
from .specs import EngineSpec

_RELEASE_RE = re.compile(r'^JAVA_VERSION="([^"]+)"', re.MULTILINE)
_SEARCH_ROOTS = (Path("/usr/lib/jvm"), Path("/usr/local/lib/jvm"), Path("/opt/java"), Path("/opt"))


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def parse_java_major(version: str) -> int:
    """``"17.0.15"`` -> 17, ``"1.8.0_392"`` -> 8, ``"25"`` -> 25."""
    parts = version.strip().split(".")
    if not parts[0].isdigit():
        raise ValueError(f"not a Java version: {version!r}")
    major = int(parts[0])
    if major == 1 and len(parts) > 1 and parts[1].isdigit():
        return int(parts[1])
    return major


def read_jdk(home: Path) -> Jdk | None:
    """Describe the JDK at ``home``, or ``None`` when it is not one."""
    release = home / "release"
    if not (home / "bin" / "java").is_file() or not release.is_file():
        return None
    match = _RELEASE_RE.search(release.read_text(errors="replace"))
    if match is None:
        return None
    try:
        return Jdk(home.resolve(), parse_java_major(match.group(1)))
    except ValueError:
        return None


def discover_jdks() -> list[Jdk]:
    """Every JDK found in the usual places, newest first, without duplicates."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    java = shutil.which("java")
    if java:
        candidates.append(Path(java).resolve().parent.parent)
    for root in _SEARCH_ROOTS:
        if root.is_dir():
            candidates.extend(sorted(p for p in root.iterdir() if p.is_dir()))
    found: dict[Path, Jdk] = {}
    for path in candidates:
        jdk = read_jdk(path)
        if jdk is not None:
            found.setdefault(jdk.home, jdk)
    return sorted(found.values(), key=lambda j: j.major, reverse=True)


def fits(spec: EngineSpec, jdk: Jdk) -> bool:
    return jdk.major >= spec.min_java and (spec.max_java is None or jdk.major <= spec.max_java)


def choose_jdk(spec: EngineSpec, jdks: list[Jdk], override: str | None) -> Jdk:
    """The JDK for ``spec``: ``override`` (its JAVA_HOME variable) or the newest that fits."""
    if override:
        jdk = read_jdk(Path(override))
        if jdk is None:
            raise ToolMissingError(
                f"{spec.java_home_env}={override} is not a JDK (no bin/java or release file)"
            )
        if not fits(spec, jdk):
            raise ToolMissingError(
                f"{spec.java_home_env}={override} is Java {jdk.major}, but {spec.kind.label} "
                f"{spec.version} needs Java {spec.java_range()}"
            )
        return jdk
    for jdk in jdks:
        if fits(spec, jdk):
            return jdk
    seen = ", ".join(f"{j.major} ({j.home})" for j in jdks) or "none"
    raise ToolMissingError(
        f"No installed JDK fits {spec.kind.label} {spec.version}, which needs Java "
        f"{spec.java_range()} (found: {seen}). Install one (Debian: apt-get install "
        f"openjdk-{max(spec.min_java, 17)}-jdk-headless) or set {spec.java_home_env}."
    )

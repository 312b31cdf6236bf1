"""Unpack an engine distribution and install its plugins, once per version.

The result lives in ``<engines>/dist/<kind>-<version>`` and is reused by later
runs; a marker file written last makes a half-finished install detectable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tandem.plugin.engines.kinds import EngineKind

from . import maven
from .config import missing_modules
from .errors import EngineError
from .jdk import Jdk, choose_jdk, discover_jdks, has_locale
from .specs import EngineSpec, MavenArtifact, ModuleJar

_MARKER = ".tandem-installed.json"
# The engine itself and what it drags in: ``lib/`` already carries these jars, so the
# dependency tree of a rebuilt module is pruned there (``org.opensearch.plugin`` jars such
# as the painless SPI are kept: they belong to the module, as in the full distribution).
_ENGINE_EXCLUSIONS = ("org.opensearch:*", "org.apache.lucene:*", "org.apache.logging.log4j:*")


def extract_zip(archive: Path, dest: Path) -> None:
    """Unzip keeping Unix permission bits, which :mod:`zipfile` drops by default."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                path.chmod(mode & 0o777)


def _single_child(folder: Path) -> Path:
    children = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(children) != 1 or not children[0].is_dir():
        raise EngineError(f"unexpected layout in {folder}: {[c.name for c in children]}")
    return children[0]


def _install_plugin(home: Path, spec: EngineSpec, archive: Path, jdk: Jdk, log_path: Path) -> None:
    tool = home / "bin" / f"{spec.kind.value}-plugin"
    env = {**os.environ, spec.java_home_env: str(jdk.home), "JAVA_HOME": str(jdk.home)}
    with log_path.open("a") as log:
        log.write(f"$ {tool} install --batch {archive}\n")
        log.flush()
        result = subprocess.run(
            [str(tool), "install", "--batch", archive.as_uri()],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
            timeout=600,
        )
    if result.returncode != 0:
        raise EngineError(f"installing plugin {archive.name} failed; log: {log_path}")


def _install_module(
    home: Path,
    spec: EngineSpec,
    module: ModuleJar,
    artifacts: Path,
    log_path: Path,
    progress: Callable[[str], None],
) -> None:
    target = home / "modules" / module.name
    if target.exists():
        return
    staging = home / "modules" / f".{module.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    jars = maven.fetch_with_dependencies(
        module.artifact, _ENGINE_EXCLUSIONS, staging, artifacts, log_path, progress
    )
    # Two copies of a class on the module's and the engine's classpath fail jar hell checks.
    shipped = {jar.name for jar in (home / "lib").glob("*.jar")}
    for jar in jars:
        if jar.name in shipped:
            jar.unlink()
    lines = {
        "description": f"{module.name} rebuilt by Tandem from {module.artifact.coordinates}",
        "version": spec.version,
        "name": module.name,
        "classname": module.classname,
        "java.version": "11",
        "opensearch.version": spec.version,
        "extended.plugins": ",".join(module.extended_plugins),
        "has.native.controller": "false",
    }
    (staging / "plugin-descriptor.properties").write_text(
        "".join(f"{k}={v}\n" for k, v in lines.items())
    )
    policy = module.security_policy
    if policy is not None:
        (staging / "plugin-security.policy").write_text(policy)
    staging.rename(target)


def ensure_installed(
    spec: EngineSpec, root: Path, jdk: Jdk, log_path: Path, progress: Callable[[str], None]
) -> Path:
    """Return the engine home for ``spec``, fetching and installing what is missing."""
    home = root / "dist" / spec.name
    marker = home / _MARKER
    wanted = {
        "distribution": spec.distribution.coordinates,
        "plugins": [p.coordinates for p in spec.plugins],
        "modules": [m.artifact.coordinates for m in spec.modules],
    }
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return home
    artifacts = root / "artifacts"
    progress(f"fetching {spec.distribution.coordinates} from Maven Central")
    archive = maven.fetch(spec.distribution, artifacts, log_path, progress)
    plugin_archives = []
    for plugin in spec.plugins:
        progress(f"fetching {plugin.coordinates}")
        plugin_archives.append(maven.fetch(plugin, artifacts, log_path, progress))

    shutil.rmtree(home, ignore_errors=True)
    staging = root / "dist" / f".{spec.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    progress(f"unpacking {archive.name}")
    extract_zip(archive, staging)
    _single_child(staging).rename(home)
    staging.rmdir()

    for module in spec.modules:
        progress(f"rebuilding module {module.name} from {module.artifact.coordinates}")
        _install_module(home, spec, module, artifacts, log_path, progress)
    for plugin_archive in plugin_archives:
        progress(f"installing plugin {plugin_archive.name}")
        _install_plugin(home, spec, plugin_archive, jdk, log_path)
    marker.write_text(json.dumps(wanted))
    return home


# ICU4J's java.text.spi providers: Thai word breaks for a runtime without Thai locale data.
THAI_PROVIDERS = (
    MavenArtifact("com.ibm.icu", "icu4j", "74.2", "jar"),
    MavenArtifact("com.ibm.icu", "icu4j-localespi", "74.2", "jar"),
)
# The JVM asks the providers on the class path (SPI) first, then its own data (CLDR).
LOCALE_PROVIDERS_OPTION = "-Djava.locale.providers=SPI,CLDR"


def ensure_thai_providers(
    home: Path, root: Path, log_path: Path, progress: Callable[[str], None]
) -> None:
    """Put ICU4J's locale providers on the engine's class path (``lib/``), once.

    OpenSearch builds every pre-built analyzer when it creates an index, ``thai``
    among them, and that one fails on a runtime without Thai locale data ("This JRE
    does not have support for Thai segmentation"), so no index can be created. The
    jars are inert unless ``-Djava.locale.providers`` names ``SPI``.
    """
    for artifact in THAI_PROVIDERS:
        target = home / "lib" / artifact.filename
        if not target.is_file():
            progress(f"fetching {artifact.coordinates} (Thai word breaks for this runtime)")
            shutil.copy2(maven.fetch(artifact, root / "artifacts", log_path, progress), target)


def installed_modules(home: Path) -> list[str]:
    """Names under ``modules/`` and ``plugins/`` (for status and docs)."""
    names = []
    for folder in ("modules", "plugins"):
        if (home / folder).is_dir():
            names += sorted(p.name for p in (home / folder).iterdir() if not p.name.startswith("."))
    return names


@dataclass(frozen=True)
class Prepared:
    """An engine home ready to run on ``jdk``, with the JVM options that runtime needs."""

    home: Path
    jdk: Jdk
    jvm_extra: tuple[str, ...]


def prepare(
    spec: EngineSpec, root: Path, log_path: Path, progress: Callable[[str], None]
) -> Prepared:
    """Choose the JDK for ``spec``, install the engine for it and say what that runtime
    lacks: what a local process and an image (``tandem engines image``) both start from."""
    jdk = choose_jdk(spec, discover_jdks(), os.environ.get(spec.java_home_env))
    progress(f"{spec.kind.label} {spec.version} will run on {jdk.describe()}")
    home = ensure_installed(spec, root, jdk, log_path, progress)
    lacking = missing_modules((home / "config" / "jvm.options").read_text(), jdk)
    if lacking:
        progress(
            f"this Java runtime lacks {', '.join(lacking)}: Lucene scores vectors with its "
            "scalar code, not SIMD; a full JDK 21+ on PATH or in "
            f"{spec.java_home_env} turns SIMD on"
        )
    jvm_extra: tuple[str, ...] = ()
    if spec.kind is EngineKind.OPENSEARCH and not has_locale(jdk, "th"):
        progress(
            "this Java runtime has no Thai locale data, which OpenSearch's thai analyzer "
            "needs before any index can be created: adding ICU4J's locale providers"
        )
        ensure_thai_providers(home, root, log_path, progress)
        jvm_extra = (LOCALE_PROVIDERS_OPTION,)
    return Prepared(home, jdk, jvm_extra)

"""Docker images of an engine, built from the artifacts the launcher runs.

``tandem engines image`` (and CI, which reaches no container registry) builds an
image from the same Maven Central install as a local process and the JDK that the
launcher would choose for it, on a Debian-family base. The image honours what the
official images take from the environment, so that ``compose.yaml`` and the
testcontainers path use it unchanged:

- a variable whose name has a dot (``discovery.type=single-node``) is a node setting;
- ``OPENSEARCH_JAVA_OPTS`` / ``ES_JAVA_OPTS`` (the engines' own launch scripts read them);
- ``ELASTIC_PASSWORD`` becomes the keystore's ``bootstrap.password``, as in Elastic's
  image; ``xpack.security.enabled`` defaults to false (the launcher's setting);
- ``DISABLE_SECURITY_PLUGIN`` / ``DISABLE_INSTALL_DEMO_CONFIG`` are accepted: the
  OpenSearch install has no security plugin to disable;
- it listens on 0.0.0.0:9200, keeps data in ``/usr/share/<engine>/data`` and runs as
  uid 1000, and has ``curl`` for health checks (installed when the base lacks it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tandem.plugin.engines.kinds import EngineKind

from .config import cluster_name, drop_missing_modules, render_yaml, write_runtime_options
from .errors import EngineError, ToolMissingError
from .install import prepare
from .jdk import Jdk
from .specs import EngineSpec

DEFAULT_BASE = "debian:bookworm-slim"
HTTP_PORT = 9200
TRANSPORT_PORT = 9300

_ENTRYPOINT = """\
#!/bin/bash
# Node settings from the environment, as the official images take them: a variable
# whose name has a dot (discovery.type=single-node) is passed as -Ediscovery.type=...
set -euo pipefail
settings=()
while IFS= read -r -d '' entry; do
  name=${entry%%=*}
  if [[ $name =~ ^[a-z0-9_]+\\.[a-z0-9_.]+$ ]]; then settings+=("-E$name=${entry#*=}"); fi
done < <(env -0)
"""

_ELASTICSEARCH_SECURITY = """\
if ! env | grep -q '^xpack\\.security\\.enabled='; then
  settings+=("-Expack.security.enabled=false")
fi
if [[ -n ${ELASTIC_PASSWORD:-} ]]; then
  [[ -f config/elasticsearch.keystore ]] || bin/elasticsearch-keystore create >/dev/null
  printf '%s' "$ELASTIC_PASSWORD" | bin/elasticsearch-keystore add -x -f bootstrap.password
fi
"""


def default_repository(kind: EngineKind) -> str:
    """``tandem/opensearch``: images are tagged with the engine version."""
    return f"tandem/{kind.value}"


def home_in_image(kind: EngineKind) -> str:
    return f"/usr/share/{kind.value}"


def image_settings(spec: EngineSpec) -> dict[str, str]:
    """The node settings baked into the image; the environment adds the rest."""
    return {
        "cluster.name": cluster_name(spec),
        "network.host": "0.0.0.0",
        "http.port": str(HTTP_PORT),
        "transport.port": str(TRANSPORT_PORT),
        # Small CI disks would otherwise push shards read-only (as the launcher does).
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }


def entrypoint(spec: EngineSpec) -> str:
    security = _ELASTICSEARCH_SECURITY if spec.kind is EngineKind.ELASTICSEARCH else ""
    return f'{_ENTRYPOINT}{security}exec {spec.executable} "${{settings[@]}}"\n'


def dockerfile(spec: EngineSpec) -> str:
    home = home_in_image(spec.kind)
    return (
        f"# {spec.kind.label} {spec.version} from Maven Central, written by tandem engines image.\n"
        f"ARG BASE={DEFAULT_BASE}\n"
        "FROM ${BASE}\n"
        "# hadolint ignore=DL3008\n"
        "RUN command -v curl >/dev/null || (apt-get update -qq && apt-get install -y -qq "
        "--no-install-recommends curl && rm -rf /var/lib/apt/lists/*)\n"
        "RUN useradd --uid 1000 --gid 0 --no-create-home --home-dir "
        f"{home} {spec.kind.value}\n"
        "COPY jdk /opt/jdk\n"
        f"COPY engine {home}\n"
        f"COPY --chown=1000:0 config {home}/config\n"
        "COPY entrypoint.sh /usr/local/bin/engine-entrypoint\n"
        f"RUN mkdir -p {home}/data {home}/logs && chown 1000:0 {home}/data {home}/logs\n"
        f"ENV {spec.java_home_env}=/opt/jdk PATH=/opt/jdk/bin:$PATH LANG=C.UTF-8\n"
        f"WORKDIR {home}\n"
        "USER 1000\n"
        f"EXPOSE {HTTP_PORT} {TRANSPORT_PORT}\n"
        'ENTRYPOINT ["/usr/local/bin/engine-entrypoint"]\n'
    )


def _link_tree(source: Path, target: Path) -> None:
    """Hard links where the file system allows (the context is read, never written),
    else copies; symlinks stay symlinks."""

    def link(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(source, target, symlinks=True, copy_function=link)


def write_context(
    spec: EngineSpec, home: Path, jdk: Jdk, folder: Path, jvm_extra: tuple[str, ...] = ()
) -> None:
    """Lay out a build context for ``spec`` in the empty ``folder``."""
    _link_tree(home, folder / "engine")
    shutil.rmtree(folder / "engine" / "config")
    _link_tree(jdk.home, folder / "jdk")
    config = folder / "config"
    shutil.copytree(home / "config", config)
    options = config / "jvm.options"
    options.write_text(drop_missing_modules(options.read_text(), jdk))
    (config / f"{spec.kind.value}.yml").write_text(render_yaml(image_settings(spec)))
    write_runtime_options(config / "jvm.options.d", jvm_extra)
    script = folder / "entrypoint.sh"
    script.write_text(entrypoint(spec))
    script.chmod(0o755)  # COPY keeps the mode (the legacy builder has no --chmod)
    (folder / "Dockerfile").write_text(dockerfile(spec))


def build_image(
    spec: EngineSpec,
    root: Path,
    tag: str,
    base: str,
    progress: Callable[[str], None],
) -> None:
    """Install ``spec`` (cached like a local engine), then ``docker build`` it as ``tag``."""
    docker = shutil.which("docker")
    if docker is None:
        raise ToolMissingError(
            "tandem engines image needs the docker command (and a Docker engine); "
            "install Docker, or run engines as local processes with tandem engines up"
        )
    setup_log = root / "images" / f"{spec.name}.log"
    setup_log.parent.mkdir(parents=True, exist_ok=True)
    prepared = prepare(spec, root, setup_log, progress)
    context = root / "images" / f".{spec.name}.context"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    try:
        write_context(spec, prepared.home, prepared.jdk, context, prepared.jvm_extra)
        progress(f"building {tag} on {base}")
        command = [docker, "build", "--quiet", "--build-arg", f"BASE={base}", "-t", tag, "."]
        # The legacy builder needs no buildx plugin and pulls no frontend image.
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        done = subprocess.run(command, cwd=context, env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    if done.returncode != 0:
        raise EngineError(
            f"docker build of {tag} failed (exit {done.returncode}): "
            f"{' '.join(done.stderr.split())[-1500:]}"
        )

"""Engines from Docker images through testcontainers, where a Docker engine exists.

Machines without a Docker daemon use :mod:`tandem.integration.launcher`'s local
processes instead. The image is the official one, or another repository with
the same tags (``--image``, ``TANDEM_OPENSEARCH_IMAGE``): ``tandem engines
image`` builds one from Maven Central (:mod:`tandem.integration.images`), which
is how CI, with no registry in reach, runs this path. Where the daemon has the
image neither locally nor from a registry, :func:`image_problem` says why, and
the launcher runs a local process instead.
"""

from __future__ import annotations

import contextlib
import os
import time

from tandem.plugin.engines.kinds import EngineKind

from . import probe
from .errors import EngineStartError
from .handle import EngineHandle
from .specs import EngineSpec

# The official images' repositories; the tag is always the engine version.
REPOSITORIES = {
    EngineKind.OPENSEARCH: "opensearchproject/opensearch",
    EngineKind.ELASTICSEARCH: "docker.elastic.co/elasticsearch/elasticsearch",
}


def repository_env(kind: EngineKind) -> str:
    """``TANDEM_OPENSEARCH_IMAGE``: the variable naming another repository for ``kind``."""
    return f"TANDEM_{kind.value.upper()}_IMAGE"


def container_env(spec: EngineSpec, heap: str = "512m") -> dict[str, str]:
    env = {
        "discovery.type": "single-node",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    if spec.kind is EngineKind.OPENSEARCH:
        env["DISABLE_SECURITY_PLUGIN"] = "true"
        env["DISABLE_INSTALL_DEMO_CONFIG"] = "true"
        env["OPENSEARCH_JAVA_OPTS"] = f"-Xms{heap} -Xmx{heap}"
    else:
        env["xpack.security.enabled"] = "false"
        env["ES_JAVA_OPTS"] = f"-Xms{heap} -Xmx{heap}"
    return env


def image(spec: EngineSpec, repository: str | None = None) -> str:
    """``repository:version``; the repository is ``repository``, else the kind's variable
    (``TANDEM_OPENSEARCH_IMAGE``), else the official one."""
    chosen = repository or os.environ.get(repository_env(spec.kind)) or REPOSITORIES[spec.kind]
    return f"{chosen}:{spec.version}"


def image_problem(reference: str) -> str | None:
    """``None`` when the Docker engine has ``reference`` or can pull it, else why not
    (the daemon's words), so that ``auto`` runs a local process instead."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        try:
            client.images.get(reference)
            return None
        except docker.errors.ImageNotFound:
            pass
        repository, _, tag = reference.rpartition(":")
        client.images.pull(repository, tag=tag)
    except docker_errors() as err:
        return describe_error(err)
    return None


def docker_errors() -> tuple[type[Exception], ...]:
    """What docker-py and testcontainers raise when Docker cannot create or start a
    container: a failed pull (``ImageNotFound``, or ``APIError`` when no registry
    answers), an unreachable daemon. Empty without the docker extra."""
    try:
        from docker.errors import DockerException
        from testcontainers.core.exceptions import ContainerStartException
    except ImportError:
        return ()
    # requests' errors (docker-py's transport; APIError is one too) are OSErrors.
    return (DockerException, ContainerStartException, OSError)


def describe_error(err: BaseException) -> str:
    """The daemon's own words when it gave any (``APIError.explanation``), on one line."""
    text = str(getattr(err, "explanation", None) or err or type(err).__name__)
    return " ".join(text.split())


def docker_available() -> bool:
    """True when a Docker daemon answers (not merely when the CLI is installed)."""
    if os.environ.get("DOCKER_HOST") is None and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:
        return False
    return True


def start(spec: EngineSpec, reference: str, timeout: float = 240.0) -> EngineHandle:
    """Start ``spec`` in a container of the image ``reference``; return its handle.

    Ryuk is disabled so a container started by ``tandem engines up`` survives
    the command; ``tandem engines down`` removes it by id.
    """
    from testcontainers.core.container import DockerContainer

    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    container = DockerContainer(reference)
    container.with_envs(**container_env(spec)).with_bind_ports(9200, spec.http_port)
    try:
        container.start()
    except BaseException:
        with contextlib.suppress(Exception):  # a container created but not started
            container.stop()
        raise
    deadline = time.monotonic() + timeout
    while probe.cluster_health(spec.url) not in ("yellow", "green"):
        if time.monotonic() > deadline:
            logs = container.get_logs()
            container.stop()
            raise EngineStartError(
                f"{spec.kind.label} {spec.version} container was not healthy after {timeout:.0f}s; "
                f"container log tail:\n{logs[0].decode(errors='replace')[-2000:]}"
            )
        time.sleep(1)
    return EngineHandle(
        spec.kind, spec.version, spec.url, "container", container_id=container.get_container_id()
    )


def stop(container_id: str) -> None:
    import docker

    docker.from_env().containers.get(container_id).remove(force=True)

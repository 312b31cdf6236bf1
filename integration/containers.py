"""Engines from Docker images through testcontainers, where a Docker engine exists.

This path cannot run on machines without a Docker daemon (such as Tandem's CI
machines), which use :mod:`tandem.integration.launcher`'s local processes
instead. The official images carry every module and plugin, so no
workarounds from docs/engines.md apply here. A daemon that answers but cannot
get the image (no registry reachable, nothing tagged locally) raises one of
:func:`docker_errors`, and the launcher runs a local process instead.
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

IMAGES = {
    EngineKind.OPENSEARCH: "opensearchproject/opensearch:{version}",
    EngineKind.ELASTICSEARCH: "docker.elastic.co/elasticsearch/elasticsearch:{version}",
}


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


def image(spec: EngineSpec) -> str:
    return IMAGES[spec.kind].format(version=spec.version)


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


def start(spec: EngineSpec, timeout: float = 240.0) -> EngineHandle:
    """Start ``spec`` in a container and return an engine handle for it.

    Ryuk is disabled so a container started by ``tandem engines up`` survives
    the command; ``tandem engines down`` removes it by id.
    """
    from testcontainers.core.container import DockerContainer

    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    container = DockerContainer(image(spec))
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

"""A Docker engine, and the images the stack and the container path run.

The engine images are built from Maven Central with ``tandem engines image`` (the
launcher's install and JDK) on ``ENGINE_IMAGE_BASE`` (default debian:bookworm-slim);
the sidecar image is built by ``docker compose build`` on ``PYTHON_IMAGE`` (default
python:3.11-slim). CI, which reaches no registry, points both at a local Debian image
(.ci/docker-up). Builds are cached by Docker's layer cache.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Generator

import pytest

from tandem.integration.images import DEFAULT_BASE, build_image, default_repository
from tandem.integration.paths import engines_dir
from tandem.integration.pytest_plugin import in_ci
from tandem.integration.specs import engine_spec
from tandem.plugin.engines.kinds import EngineKind

from .compose import Stack


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that answers, with compose v2."""
    for command in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            _unavailable("the docker command is not installed (bash .ci/docker-up sets it up)")
        if done.returncode != 0:
            _unavailable(
                f"'{' '.join(command)}' failed: {' '.join(done.stderr.split())[-300:]}; "
                "start a Docker engine (bash .ci/docker-up does on Debian)"
            )


@pytest.fixture(scope="session")
def engine_images(docker_engine: None) -> dict[EngineKind, str]:
    """Each engine kind's image repository, built here (tagged with the default version)."""
    base = os.environ.get("ENGINE_IMAGE_BASE", DEFAULT_BASE)
    built = {}
    for kind in EngineKind:
        spec = engine_spec(kind)
        repository = default_repository(kind)
        print(f"[docker] building {repository}:{spec.version} on {base}", flush=True)
        build_image(spec, engines_dir(), f"{repository}:{spec.version}", base, print)
        built[kind] = repository
    return built


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the stack shows the services' logs."""
    report = yield
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(stack, Stack):
        report.sections.append(("compose logs (last 80 lines per service)", stack.logs()))
    return report

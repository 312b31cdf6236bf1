"""The compose stack end to end: compose.yaml unchanged, images built here, checked from the
host through the published ports as a user would, then taken down without a trace.

The tests run in file order against one stack (module scope): up, the loader's index,
search, health, metrics, the sidecar moved to Elasticsearch, down.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.plugin.engines.kinds import EngineKind

from ..integration.cli import tandem
from .compose import Stack

DEMO_DOCS = 200
QUERY = "read a file line by line"


def _nofile_limit() -> int:
    """The engines' recommended 65,536 open files, or the lower hard limit that the Docker
    engine (started from this machine's shell) can grant."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)


@pytest.fixture(scope="module")
def stack(
    engine_images: dict[EngineKind, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    variables = {
        "OPENSEARCH_IMAGE": engine_images[EngineKind.OPENSEARCH],
        "ELASTICSEARCH_IMAGE": engine_images[EngineKind.ELASTICSEARCH],
        "PYTHON_IMAGE": os.environ.get("PYTHON_IMAGE", "python:3.11-slim"),
        "ELASTIC_PASSWORD": f"pw-{uuid.uuid4().hex[:12]}",
        "DEMO_DOCS": str(DEMO_DOCS),
        "ENGINE_NOFILE_LIMIT": str(_nofile_limit()),
    }
    stack = Stack(variables, tmp_path_factory.mktemp("stack"))
    print(f"[docker] building the sidecar image on {variables['PYTHON_IMAGE']}", flush=True)
    stack.run("build", "sidecar", timeout=900)
    try:
        yield stack
    finally:
        stack.run("down", "--volumes", "--timeout", "1")


def _get(url: str, password: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if password is not None:
        token = base64.b64encode(f"elastic:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _demo_indices(url: str, password: str | None = None) -> dict[str, int]:
    cat = f"{url}/_cat/indices/tandem-demo-*?format=json&h=index,docs.count"
    status, body = _get(cat, password)
    assert status == 200, body
    return {row["index"]: int(row["docs.count"]) for row in json.loads(body)}


def _search(stack: Stack, index: str) -> dict[str, Any]:
    server = f"localhost:{stack.ports['SIDECAR_GRPC_HOST_PORT']}"
    done = tandem("search", "--server", server, "--index", index, "--json", QUERY, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_every_service_comes_up_healthy(stack: Stack) -> None:
    stack.run("up", "--detach", "--wait", "--wait-timeout", "600", timeout=900)
    services = stack.services()
    assert set(services) == {"opensearch", "elasticsearch", "sidecar", "loader"}
    for name, service in services.items():
        assert (name, service["State"], service["Health"]) == (name, "running", "healthy")


def test_the_loader_has_indexed_the_demo_corpus_once_healthy(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.ports['OPENSEARCH_HOST_PORT']}"
    assert list(_demo_indices(url).values()) == [DEMO_DOCS]
    logs = stack.run("logs", "--no-color", "loader").stdout
    assert f"indexing {DEMO_DOCS} docstrings" in logs and "FUSED" in logs


def test_search_from_the_host_returns_fused_results(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.ports['OPENSEARCH_HOST_PORT']}"
    (index,) = _demo_indices(url)
    result = _search(stack, index)
    assert result["method"] == "rrf" and result["index"] == index
    assert len(result["hits"]) == 10
    assert result["partial"] is False and result["shard_failures"] == []
    # Stdlib docstrings: every id is a dotted name of the standard library.
    assert all(hit["id"] and " " not in hit["id"] for hit in result["hits"])


def test_health_says_serving(stack: Stack) -> None:
    done = tandem("health", "--server", f"localhost:{stack.ports['SIDECAR_GRPC_HOST_PORT']}")
    assert (done.returncode, done.stdout.strip()) == (0, "SERVING")


def test_the_prometheus_endpoint_counts_the_search(stack: Stack) -> None:
    status, body = _get(f"http://127.0.0.1:{stack.ports['SIDECAR_METRICS_HOST_PORT']}/metrics")
    assert status == 200
    searches = [
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith('tandem_requests_total{code="OK",method="Search"}')
    ]
    assert searches and searches[0] >= 1


def test_the_sidecar_on_elasticsearch_with_its_password(stack: Stack) -> None:
    password = stack.variables["ELASTIC_PASSWORD"]
    url = f"http://127.0.0.1:{stack.ports['ELASTICSEARCH_HOST_PORT']}"
    assert _get(f"{url}/_cluster/health")[0] == 401  # security on, as compose.yaml asks
    engine = f"http://elastic:{password}@elasticsearch:9200"
    stack.run(
        "run", "--rm", "--no-deps", "--entrypoint", "tandem", "loader",
        "demo", "--engine", engine, "--docs", "50", "--query", QUERY,
    )  # fmt: skip
    (index,) = _demo_indices(url, password)
    stack.run("up", "--detach", "--wait", "sidecar", env={"TANDEM_ENGINE": engine})
    result = _search(stack, index)
    assert result["index"] == index and len(result["hits"]) == 10


def test_down_leaves_nothing_behind(stack: Stack) -> None:
    stack.run("down", "--volumes", "--timeout", "1")
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}

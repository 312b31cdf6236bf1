"""``tandem engines up`` in a container through testcontainers, from a locally built image:
it says which runtime it chose, the engine passes the smoke checks, ``down`` removes it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tandem.integration.clients import client_for
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.kinds import EngineKind

from ..integration import engine_dsl
from ..integration.cli import tandem
from ..integration.corpus import N_DOCS, exact_cosine_top, make_corpus, query_near
from .compose import free_port


def _hits(response: dict[str, object]) -> list[str]:
    return [h["_id"] for h in response["hits"]["hits"]]  # type: ignore[index]


def test_auto_runs_a_present_image_in_a_container_that_passes_the_smoke_checks(
    engine_images: dict[EngineKind, str], tmp_path: Path
) -> None:
    env = {"TANDEM_ENGINES_DIR": str(tmp_path), "TANDEM_ENGINE_PROVIDER": "auto"}
    port = free_port()
    repository = engine_images[EngineKind.OPENSEARCH]
    up = tandem("engines", "up", "opensearch", "--image", repository, "--port", str(port), env=env)
    assert up.returncode == 0, up.stderr
    name, url, origin = up.stdout.split()
    assert (name, url, origin) == ("opensearch-3.6.0", f"http://127.0.0.1:{port}", "container")
    assert f"in a container from {repository}:3.6.0" in up.stderr
    state = json.loads(next(tmp_path.glob("instances/*/state.json")).read_text())
    container = state["container_id"]
    try:
        handle = EngineHandle(EngineKind.OPENSEARCH, "3.6.0", url, "container")
        client = client_for(handle)
        docs = make_corpus()
        sparse_type = engine_dsl.sparse_field_types(handle)[0]
        engine_dsl.create_and_fill(handle, client, "smoke", docs, sparse_type, dense=True)
        assert client.count(index="smoke")["count"] == N_DOCS
        bm25 = client.search(index="smoke", body={"query": {"match": {"text": "number017"}}})
        assert _hits(bm25)[0] == "d017"
        query = query_near(next(d for d in docs if d.id == "d017"))
        knn = client.search(index="smoke", body=engine_dsl.knn_search(handle, query, k=10))
        assert _hits(knn) == [doc_id for doc_id, _ in exact_cosine_top(docs, query, k=10)]
        status = tandem("engines", "status", "--json", env=env)
        (row,) = json.loads(status.stdout)
        assert (row["origin"], row["state"]) == ("container", "running")
    finally:
        down = tandem("engines", "down", "--port", str(port), env=env)
    assert down.stdout.strip() == "stopped: opensearch-3.6.0"
    listed = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--no-trunc", "--filter", f"id={container}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.strip() == ""


def test_the_docker_runtime_without_the_image_fails_and_says_how_to_build_it(
    engine_images: dict[EngineKind, str], tmp_path: Path
) -> None:
    env = {"TANDEM_ENGINES_DIR": str(tmp_path)}
    missing = "tandem-test/no-such-engine"
    up = tandem(
        "engines", "up", "elasticsearch", "--runtime", "docker", "--image", missing,
        "--port", str(free_port()), env=env,
    )  # fmt: skip
    assert up.returncode == 2 and up.stdout == ""
    assert f"Docker has no {missing}:9.5.4 and cannot pull it" in up.stderr
    assert "tandem engines image elasticsearch" in up.stderr
    assert list(tmp_path.glob("instances/*/state.json")) == []

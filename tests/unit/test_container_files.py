"""compose.yaml and the Dockerfile: the properties the schema and hadolint do not check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return data


def test_every_service_has_a_health_check() -> None:
    services = _compose()["services"]
    assert set(services) == {"opensearch", "elasticsearch", "sidecar", "loader"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_services_wait_for_what_they_need_to_be_healthy() -> None:
    services = _compose()["services"]
    assert services["sidecar"]["depends_on"]["opensearch"]["condition"] == "service_healthy"
    loader = services["loader"]["depends_on"]
    assert {dep["condition"] for dep in loader.values()} == {"service_healthy"}


def test_elasticsearch_security_is_on_with_a_password_from_env() -> None:
    environment = _compose()["services"]["elasticsearch"]["environment"]
    assert environment["xpack.security.enabled"] == "true"
    assert environment["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    assert "ELASTIC_PASSWORD=" in (REPO / ".env.example").read_text()


def test_the_image_is_multi_stage_and_runs_as_non_root() -> None:
    lines = (REPO / "Dockerfile").read_text().splitlines()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)


def test_the_image_base_is_an_argument_and_needs_no_frontend_image() -> None:
    """No ``# syntax=`` line (BuildKit would pull its frontend image); the base is BASE."""
    lines = (REPO / "Dockerfile").read_text().splitlines()
    assert not any(line.lower().startswith("# syntax") for line in lines)
    assert "ARG BASE=python:3.11-slim" in lines
    assert [line for line in lines if line.startswith("FROM ")] == [
        "FROM ${BASE} AS build",
        "FROM ${BASE} AS runtime",
    ]


def test_every_published_port_is_on_loopback_and_a_variable() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:${") and port.endswith(("}:9200", "}:50051",
                   "}:9464", "}:8080")), f"{name}: {port}"  # fmt: skip


def test_the_loader_is_healthy_only_once_its_index_is_ready() -> None:
    """`up --wait` then means search works; a loader that exited would fail `--wait`."""
    loader = _compose()["services"]["loader"]
    assert loader["init"] is True
    (script,) = loader["command"]
    assert "&& touch /tmp/demo-ready && exec sleep infinity" in script
    assert loader["healthcheck"]["test"] == ["CMD", "test", "-f", "/tmp/demo-ready"]

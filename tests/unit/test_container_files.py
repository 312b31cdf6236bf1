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

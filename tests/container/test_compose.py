"""compose.yaml: a valid Compose file for the full local stack, started in dependency order."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.container.conftest import REPO

COMPOSE_FILE = REPO / "compose.yaml"
EXPECTED_SERVICES = {"postgres", "redis", "migrate", "api", "worker"}
APP_SERVICES = ("migrate", "api", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_container_file_matches_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_container_defines_the_full_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == EXPECTED_SERVICES


@pytest.mark.parametrize("name", ["postgres", "redis", "api"])
def test_compose_container_long_running_services_have_healthchecks(
    compose: dict[str, Any], name: str
) -> None:
    healthcheck = compose["services"][name].get("healthcheck")
    assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"


def test_compose_container_api_healthcheck_uses_only_what_the_image_has(
    compose: dict[str, Any],
) -> None:
    test = compose["services"]["api"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"], f"the slim image has no curl/wget: {test}"
    assert "/health" in " ".join(test)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_container_app_services_are_built_from_the_dockerfile(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["build"]["dockerfile"] == "Dockerfile"
    assert service["build"]["context"] == "."
    assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert service["environment"]["REDIS_URL"].startswith("redis://redis:")


def test_compose_container_migrate_runs_the_migration_command(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["python", "-m", "service.migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_container_api_uses_the_image_command(compose: dict[str, Any]) -> None:
    assert "command" not in compose["services"]["api"], "the API runs the Dockerfile's CMD"


def test_compose_container_worker_runs_the_worker_command(compose: dict[str, Any]) -> None:
    assert compose["services"]["worker"]["command"] == ["python", "-m", "service.worker", "run-due"]


@pytest.mark.parametrize("name", ["api", "worker"])
def test_compose_container_app_starts_after_migration_and_healthy_dependencies(
    compose: dict[str, Any], name: str
) -> None:
    depends_on = compose["services"][name]["depends_on"]
    assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
    assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert depends_on["redis"] == {"condition": "service_healthy"}


def test_compose_container_healthy_conditions_point_at_services_with_healthchecks(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"


def test_compose_container_api_stop_grace_outlasts_uvicorn_graceful_shutdown(
    compose: dict[str, Any], image_command: list[str]
) -> None:
    graceful = int(image_command[image_command.index("--timeout-graceful-shutdown") + 1])
    assert _seconds(compose["services"]["api"]["stop_grace_period"]) > graceful

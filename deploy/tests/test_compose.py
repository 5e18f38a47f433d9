"""deploy/compose.yaml: valid for docker-compose, the whole system with health checks and start
order, and no secret committed."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1]
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
Run = Callable[..., subprocess.CompletedProcess[str]]

# Port of each fuelhub process, as in the services' settings and README.
HTTP_PORTS = {
    "ingest-source1": 8011,
    "ingest-source2": 8012,
    "store": 8013,
    "store-admin": 8003,
    "auth": 8001,
    "api": 8002,
}
ONE_SHOT = {"migrate-store", "migrate-auth", "auth-bootstrap"}


def _config(
    tool: Callable[[str], str], sh: Run, env_file: Path
) -> subprocess.CompletedProcess[str]:
    # A clean environment: only the env file decides (no variable of the caller leaks in).
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return sh(
        [
            tool("docker-compose"),
            "--project-directory",
            str(DEPLOY),
            "-f",
            str(COMPOSE),
            "--env-file",
            str(env_file),
            "config",
        ],
        env=env,
    )


@pytest.fixture(scope="module")
def config(tool: Callable[[str], str], sh: Run) -> dict[str, Any]:
    result = _config(tool, sh, ENV_EXAMPLE)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def test_compose_validates_with_docker_compose(config: dict[str, Any]) -> None:
    expected = {
        "postgres", "rabbitmq", "demo-sources", "gateway", "prometheus", "grafana",
        *HTTP_PORTS, *ONE_SHOT,
    }  # fmt: skip
    assert set(config["services"]) == expected


def test_missing_passwords_are_refused(tool: Callable[[str], str], sh: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _config(tool, sh, empty)
    assert result.returncode != 0
    assert "POSTGRES" in result.stderr or "RABBITMQ" in result.stderr, result.stderr


def test_every_long_running_service_has_a_health_check(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        if name in ONE_SHOT or name in {"prometheus", "grafana"}:
            continue
        assert "healthcheck" in service, f"{name} has no healthcheck"
    for name, port in HTTP_PORTS.items():
        service = config["services"][name]
        assert service["environment"]["HTTP_PORT"] == str(port), name
        assert service["environment"]["HTTP_HOST"] == "0.0.0.0", name
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in probe, f"{name} is not checked on its /readyz"


def test_start_order_waits_for_health_and_migrations(config: dict[str, Any]) -> None:
    services = config["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert condition["condition"] == wanted, (name, dependency)
    assert "migrate-store" in services["store"]["depends_on"]
    assert "migrate-store" in services["api"]["depends_on"]
    assert "auth-bootstrap" in services["auth"]["depends_on"]
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", name
    # Migrations run once, in their own step; the services never migrate on start.
    assert services["store"]["environment"]["STORE_MIGRATE_ON_START"] == "false"
    assert services["auth"]["environment"]["AUTH_MIGRATE_ON_START"] == "false"
    assert services["store-admin"]["environment"]["ADMIN_MIGRATE_ON_START"] == "false"


def test_data_lives_in_volumes(config: dict[str, Any]) -> None:
    assert {"pgdata", "rabbitmq-data", "media", "auth-keys"} <= set(config["volumes"])
    services = config["services"]

    def targets(name: str) -> set[str]:
        # docker-compose 1.x prints the short form (source:target:mode), 2.x the long one.
        return {
            v["target"] if isinstance(v, dict) else v.split(":")[1]
            for v in services[name].get("volumes", [])
        }

    assert "/var/lib/postgresql/data" in targets("postgres")
    assert "/var/lib/rabbitmq" in targets("rabbitmq")
    assert "/var/lib/fuelhub/media" in targets("store-admin")
    assert "/var/lib/fuelhub/auth-keys" in targets("auth")


def test_rabbitmq_has_management_and_prometheus_plugins(config: dict[str, Any]) -> None:
    rabbit = config["services"]["rabbitmq"]
    assert rabbit["image"].endswith("-management")
    command = (
        " ".join(rabbit["command"]) if isinstance(rabbit["command"], list) else rabbit["command"]
    )
    assert "rabbitmq_prometheus" in command


def test_gateway_routes_to_the_services(config: dict[str, Any]) -> None:
    env = config["services"]["gateway"]["environment"]
    assert env["GATEWAY_AUTH_UPSTREAM"] == "auth:8001"
    assert env["GATEWAY_API_UPSTREAM"] == "api:8002"
    assert env["GATEWAY_ADMIN_UPSTREAM"] == "store-admin:8003"


def test_env_example_holds_no_real_secret() -> None:
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    for name, value in values.items():
        if re.search(r"PASSWORD|SECRET|TOKEN|KEY", name):
            assert value == "" or value.startswith("change-me"), f"{name} looks like a real value"
    # Every variable compose requires (${NAME:?...}) is in the example.
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    assert required <= set(values), f"missing from .env.example: {sorted(required - set(values))}"


def test_compose_file_commits_no_literal_secret() -> None:
    text = COMPOSE.read_text()
    keys = re.findall(r"^\s+([A-Z_]*(?:PASSWORD|PASS|SECRET)[A-Z_]*):\s*(\S+)", text, re.M)
    assert keys, "expected password settings in compose.yaml"
    for name, value in keys:
        assert value.startswith("${"), f"literal secret in compose.yaml: {name}: {value}"

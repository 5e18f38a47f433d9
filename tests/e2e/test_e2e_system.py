"""The whole system, as `make run` starts it, driven through the gateway like a seed client.

Every process runs for real (demo upstreams, both ingestors, the store, auth, the API, nginx)
against the shared Postgres (a fresh database) and RabbitMQ (a fresh virtual host).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from fuelhub_common.testing import free_port, seed_contract_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class System:
    gateway: str
    demo: str
    logs: Path


def _bin(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    assert Path(found).exists(), f"{name} is not installed in the environment"
    return found


def _wait(check: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def system(
    postgres_database_factory: Callable[[], str],
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[System]:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (apt-get install -y nginx): the gateway needs it")
    work = tmp_path_factory.mktemp("system")
    database_url = postgres_database_factory()
    ports = {name: free_port() for name in ("gateway", "auth", "api", "admin", "demo")}
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    demo = f"http://127.0.0.1:{ports['demo']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BROKER_URL": rabbitmq_vhost_factory(),
        "LOG_FORMAT": "text",
        "AUTH_ISSUER": gateway,
        "AUTH_KEYS_DIR": str(work / "keys"),
        "AUTH_JWKS_URL": f"http://127.0.0.1:{ports['auth']}/.well-known/jwks.json",
        "AUTH_ARGON2_MEMORY_KIB": "8192",
        "DEMO_PORT": str(ports["demo"]),
        "DEMO_STATIONS": "40",
        "DEMO_EVOLVE": "false",
        "DEMO_SOURCE1_LATENCY": "0",
        "DEMO_SOURCE2_LATENCY": "0",
        "SOURCE1_URL": f"{demo}/fuel-stations",
        "SOURCE2_URL": f"{demo}/fuel-prices",
        "SOURCE2_POLL_INTERVAL": "1",
        "GATEWAY_LISTEN": f"127.0.0.1:{ports['gateway']}",
        "GATEWAY_AUTH_UPSTREAM": f"127.0.0.1:{ports['auth']}",
        "GATEWAY_API_UPSTREAM": f"127.0.0.1:{ports['api']}",
        "GATEWAY_ADMIN_UPSTREAM": f"127.0.0.1:{ports['admin']}",
        "GATEWAY_DIR": str(work / "gateway"),
    }
    for step in (["fuelhub-store", "migrate"], ["fuelhub-auth", "migrate"]):
        subprocess.run([_bin(step[0]), *step[1:]], env=env, check=True, capture_output=True)
    subprocess.run(
        [_bin("fuelhub-auth"), "dev-bootstrap"],
        env={**env, "AUTH_DEV_ADMIN_PASSWORD": "admin-password-for-e2e"},
        check=True,
        capture_output=True,
    )
    commands = {
        "demo": ([_bin("fuelhub-demo-sources")], {}),
        "auth": ([_bin("fuelhub-auth"), "serve"], {"HTTP_PORT": str(ports["auth"])}),
        "api": ([_bin("fuelhub-api")], {"HTTP_PORT": str(ports["api"])}),
        "store": ([_bin("fuelhub-store"), "consume"], {"HTTP_PORT": str(free_port())}),
        "ingest1": ([_bin("fuelhub-ingest-source1")], {"HTTP_PORT": str(free_port())}),
        "ingest2": ([_bin("fuelhub-ingest-source2")], {"HTTP_PORT": str(free_port())}),
        "gateway": ([sys.executable, str(ROOT / "deploy/gateway/gateway.py")], {}),
    }
    logs = work / "logs"
    logs.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, (argv, extra) in commands.items():
            with open(logs / f"{name}.log", "wb") as out:
                processes[name] = subprocess.Popen(
                    argv, env={**env, **extra}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
                )
        _wait(lambda: httpx.get(f"{demo}/_control/state").status_code == 200, "demo sources")
        _wait(
            lambda: httpx.get(f"http://127.0.0.1:{ports['api']}/readyz").status_code == 200,
            "the API",
        )
        _wait(lambda: httpx.get(f"{gateway}/.well-known/jwks.json").status_code == 200, "gateway")
        yield System(gateway=gateway, demo=demo, logs=logs)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                print(f"{name} did not stop on SIGTERM")


def token(system: System, **kwargs: Any) -> str:
    response = httpx.post(f"{system.gateway}/api/v1/token/", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access", "refresh"}
    return str(body["access"])


def stations(system: System, access: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{system.gateway}/api/v1/fuel-stations",
        params=params,
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_seed_client_logs_in_refreshes_and_pages_through_the_gateway(system: System) -> None:
    credentials = {"username": "demo", "password": "demo12345"}
    access = token(system, json=credentials)
    token(system, data=credentials)
    token(system, files={k: (None, v) for k, v in credentials.items()})
    refresh = httpx.post(f"{system.gateway}/api/v1/token/", json=credentials).json()["refresh"]
    refreshed = httpx.post(f"{system.gateway}/api/v1/token/refresh/", json={"refresh": refresh})
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()

    unauthorised = httpx.get(f"{system.gateway}/api/v1/fuel-stations")
    assert unauthorised.status_code == 401
    assert unauthorised.headers["WWW-Authenticate"].startswith("Bearer")

    catalog = httpx.get(f"{system.demo}/fuel-stations").json()
    _wait(lambda: stations(system, access)["count"] == len(catalog), "the catalog in the API")
    validator = jsonschema.Draft202012Validator(seed_contract_schema("PaginatedFuelStationList"))
    seen: list[int] = []
    page = stations(system, access, limit=15, offset=0)
    while True:
        validator.validate(page)  # exactly the seed's fields, nothing more
        seen.extend(s["id"] for s in page["results"])
        if page["next"] is None:
            break
        assert page["next"].startswith(system.gateway)  # built from the gateway's headers
        page = httpx.get(page["next"], headers={"Authorization": f"Bearer {access}"}).json()
    assert sorted(seen) == sorted(s["id"] for s in catalog)


def test_upstream_data_arrives_and_a_new_price_shows_up(system: System) -> None:
    access = token(system, json={"username": "demo", "password": "demo12345"})
    prices = {p["id"]: p for p in httpx.get(f"{system.demo}/fuel-prices").json()}
    catalog = {s["id"]: s for s in httpx.get(f"{system.demo}/fuel-stations").json()}
    station_id = next(i for i in sorted(catalog) if i in prices)
    _wait(
        lambda: any(
            s["id"] == station_id and s["fuels"]
            for s in stations(system, access, limit=1000)["results"]
        ),
        "prices in the API",
    )
    page = stations(system, access, limit=1000)
    shown = next(s for s in page["results"] if s["id"] == station_id)
    assert Decimal(str(shown["coordinate_x"])) == Decimal(
        str(catalog[station_id]["coordinates"][0])
    )
    assert shown["number"] == catalog[station_id]["number"]

    httpx.post(
        f"{system.demo}/_control/prices/{station_id}",
        json=[{"name": "АИ-95", "price": "77.77", "currency": "RUB"}],
    ).raise_for_status()

    def new_price_visible() -> bool:
        current = stations(system, access, limit=1000)["results"]
        fuels = next(s for s in current if s["id"] == station_id)["fuels"]
        return [(f["fuel_type"]["name"], f["price"], f["currency"]) for f in fuels] == [
            ("АИ-95", 77.77, "RUB")
        ]

    _wait(new_price_visible, "the new price through the gateway", seconds=60)

"""The whole system, as `make run` starts it, driven through the gateway like a seed client.

Every process runs for real (demo upstreams, both ingestors, the store, auth, the API, nginx)
against the shared Postgres (a fresh database) and RabbitMQ (a fresh virtual host).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest
from fuelhub_common.system import LocalSystem, SystemConfig, run_system
from fuelhub_common.testing import seed_contract_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def system(
    postgres_database_factory: Callable[[], str],
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalSystem]:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (apt-get install -y nginx): the gateway needs it")
    with run_system(
        tmp_path_factory.mktemp("system"),
        SystemConfig(stations=40, source2_poll_interval=1.0),
        database_url=postgres_database_factory(),
        broker_url=rabbitmq_vhost_factory(),
    ) as running:
        yield running


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


def token(system: LocalSystem, **kwargs: Any) -> str:
    response = httpx.post(f"{system.gateway}/api/v1/token/", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access", "refresh"}
    return str(body["access"])


def stations(system: LocalSystem, access: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{system.gateway}/api/v1/fuel-stations",
        params=params,
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_seed_client_logs_in_refreshes_and_pages_through_the_gateway(system: LocalSystem) -> None:
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


def test_upstream_data_arrives_and_a_new_price_shows_up(system: LocalSystem) -> None:
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

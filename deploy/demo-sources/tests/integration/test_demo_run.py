"""The real server: run_demo_sources, the ticker, a cut connection, 100,000 stations."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fuelhub_demo_sources.service import DemoService
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources


def test_demo_run_demo_sources_serves_on_a_free_port_and_stops() -> None:
    with run_demo_sources() as url, run_demo_sources(fast_settings(seed=2)) as other:
        assert url != other
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith("/")
        stations = httpx.get(f"{url}/fuel-stations", timeout=10)
        assert stations.status_code == 200
        assert len(stations.json()) == 50
        assert httpx.get(f"{other}/fuel-stations", timeout=10).json() != stations.json()
        assert httpx.get(f"{url}/fuel-prices", timeout=10).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/fuel-stations", timeout=5)


def test_demo_restart_on_the_same_port() -> None:
    with run_demo_sources() as url:
        port = int(url.rsplit(":", 1)[1])
        httpx.get(f"{url}/fuel-prices", timeout=10)
    with run_demo_sources(port=port) as again:
        assert again == url
        assert httpx.get(f"{again}/fuel-prices", timeout=10).status_code == 200


def test_demo_cut_body_breaks_the_connection_mid_body() -> None:
    with run_demo_sources() as url:
        fault = {"endpoint": "stations", "kind": "cut"}
        httpx.post(f"{url}/_control/body", json=fault, timeout=10).raise_for_status()
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{url}/fuel-stations", timeout=10)
        httpx.delete(f"{url}/_control/faults", timeout=10).raise_for_status()
        assert httpx.get(f"{url}/fuel-stations", timeout=10).status_code == 200


def test_demo_background_evolution_changes_prices() -> None:
    settings = fast_settings(evolve=True, price_changes_per_minute=600)
    with run_demo_sources(settings) as url:
        first = httpx.get(f"{url}/fuel-prices", timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.3)
            r = httpx.get(f"{url}/fuel-prices", headers={"If-None-Match": first.headers["etag"]})
            if r.status_code == 200:
                break
        assert r.status_code == 200
        assert r.content != first.content
        steps = httpx.get(f"{url}/_control/state", timeout=10).json()["evolution"]["steps"]
        assert steps > 0


def test_demo_no_background_evolution_when_off() -> None:
    with run_demo_sources(fast_settings(price_changes_per_minute=6000)) as url:
        time.sleep(1.2)
        assert httpx.get(f"{url}/_control/state", timeout=10).json()["prices_version"] == 0


@pytest.mark.slow
def test_demo_100k_stations_render() -> None:
    service = DemoService(fast_settings(stations=100_000))
    stations = json.loads(service.respond("stations").body)  # type: ignore[arg-type]
    assert len(stations) == 100_000
    prices = service.respond("prices")
    assert len(json.loads(prices.body)) > 95_000  # type: ignore[arg-type]
    service.evolve_step("prices")
    etag = prices.headers["ETag"]
    assert service.respond("prices", if_none_match=etag).status == 200
    again = service.respond("prices")
    assert service.respond("prices", if_none_match=again.headers["ETag"]).status == 304

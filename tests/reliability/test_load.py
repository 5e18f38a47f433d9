"""The API under sustained load through the gateway while prices keep changing upstream.

wrk drives ``LOAD_CONNECTIONS`` connections for ``LOAD_SECONDS`` against a mix of v1 and v2
reads through nginx, while the demo upstream changes a price list every few seconds and the
ingestor → broker → store path applies each change. It must hold: no error (every answer
2xx/3xx, no socket error), and afterwards the API shows exactly the upstream's final prices
(no update lost). The latency distribution is written to ``test-artifacts/reliability/`` and
recorded in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fuelhub_common.normalize import FuelNameNormalizer
from fuelhub_common.system import ROOT, LocalSystem
from fuelhub_ingest_source2.prices import PricesAdapter

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

LOAD_SECONDS = int(os.environ.get("RELIABILITY_LOAD_SECONDS", "60"))
LOAD_CONNECTIONS = int(os.environ.get("RELIABILITY_LOAD_CONNECTIONS", "64"))
PRICE_CHANGES_PER_MINUTE = 20  # one every 3 s on average
ARTIFACTS = ROOT / "test-artifacts" / "reliability"

# A client mix: v1 pages, v2 pages, a near-me search sorted by price, a bbox, the fuel types.
PATHS = [
    "/api/v1/fuel-stations?limit=100&offset=0",
    "/api/v1/fuel-stations?limit=100&offset=100",
    "/api/v1/fuel-stations?limit=100&offset=200",
    "/api/v2/fuel-stations?limit=50",
    "/api/v2/fuel-stations?fuel=%D0%90%D0%98-95&near=55.79,49.12&radius_km=50&sort=price",
    "/api/v2/fuel-stations?bbox=55.5,37.3,56.0,37.9&limit=100",
    "/api/v2/fuel-types",
]
LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def wrk_script(tmp: Path) -> Path:
    script = tmp / "mix.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in PATHS))
    return script


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests, errors and the latency distribution from wrk's ``--latency`` report."""

    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    result: dict[str, Any] = {"percentiles_ms": {}}
    for pct, value in re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.MULTILINE):
        result["percentiles_ms"][f"p{pct}"] = ms(value)
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    assert latency, output
    result["mean_ms"], result["max_ms"] = ms(latency[1]), ms(latency[3])
    done = re.search(r"(\d+) requests in ([\d.]+)(s|m)", output)
    assert done, output
    result["requests"] = int(done[1])
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx_3xx"] = int(non_2xx[1]) if non_2xx else 0
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result["socket_errors"] = sum(int(n) for n in errors.groups()) if errors else 0
    return result


def upstream_prices(system: LocalSystem) -> dict[int, set[tuple[str, Decimal, str]]]:
    body = httpx.get(f"{system.demo}/fuel-prices", timeout=30).content
    normalize = FuelNameNormalizer()
    prices = {}
    for record in json.loads(body, parse_float=Decimal):
        station_id, state = PricesAdapter().parse(record, normalize)
        prices[station_id] = {(p.fuel, p.price, p.currency) for p in state.prices}  # type: ignore[attr-defined]
    return prices


def api_prices(system: LocalSystem, token: str) -> dict[int, set[tuple[str, Decimal, str]]]:
    """Every catalog station's prices as the API's v2 shows them (walking the keyset pages)."""
    shown: dict[int, set[tuple[str, Decimal, str]]] = {}
    url: str | None = f"{system.gateway}/api/v2/fuel-stations?limit=1000"
    while url:
        page = httpx.get(url, headers=system.auth(token), timeout=30)
        assert page.status_code == 200, page.text
        body = json.loads(page.content, parse_float=Decimal)
        for station in body["results"]:
            shown[station["id"]] = {
                (f["fuel_type"]["name"], Decimal(str(f["price"])), f["currency"])
                for f in station["fuels"]
            }
        url = body.get("next")
    return shown


def test_sustained_load_through_the_gateway_while_prices_change(
    system: LocalSystem, tmp_path: Path
) -> None:
    wrk = shutil.which("wrk")
    assert wrk, "wrk is not installed (apt-get install -y wrk)"
    token = system.token()
    for path in PATHS:  # every path of the mix answers before the load starts
        assert httpx.get(f"{system.gateway}{path}", headers=system.auth(token)).status_code == 200
    control = f"{system.demo}/_control"
    before = httpx.get(f"{control}/state").json()["prices_version"]
    httpx.post(
        f"{control}/evolution",
        json={"enabled": True, "price_changes_per_minute": PRICE_CHANGES_PER_MINUTE},
    ).raise_for_status()
    try:
        run = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{LOAD_CONNECTIONS}",
                f"-d{LOAD_SECONDS}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(wrk_script(tmp_path)),
                "-H",
                f"Authorization: Bearer {token}",
                system.gateway,
            ],
            capture_output=True,
            text=True,
            timeout=LOAD_SECONDS + 60,
            check=True,
        )
    finally:
        httpx.post(f"{control}/evolution", json={"enabled": False}).raise_for_status()
    after = httpx.get(f"{control}/state").json()["prices_version"]
    result = parse_wrk(run.stdout)
    result.update(
        seconds=LOAD_SECONDS,
        connections=LOAD_CONNECTIONS,
        upstream_price_changes=after - before,
        load_average=os.getloadavg(),
    )

    # No update lost: once the last change has travelled, the API shows the upstream's prices.
    want = upstream_prices(system)
    deadline = time.monotonic() + 60
    while True:
        shown = api_prices(system, token)
        expected = {i: want.get(i, set()) for i in shown}
        if shown == expected or time.monotonic() > deadline:
            break
        time.sleep(1)
    result["converged_after_s"] = round(60 - (deadline - time.monotonic()), 1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(result, indent=2))
    (ARTIFACTS / "load-wrk.txt").write_text(run.stdout)
    print(json.dumps(result, indent=2))

    assert result["non_2xx_3xx"] == 0, run.stdout
    assert result["socket_errors"] == 0, run.stdout
    assert result["requests"] > LOAD_SECONDS * 10, run.stdout  # the load was real
    assert result["upstream_price_changes"] >= LOAD_SECONDS // 10, result  # prices did move
    lost = {i: (shown[i], expected[i]) for i in shown if shown[i] != expected[i]}
    assert not lost, f"{len(lost)} stations differ from the upstream, e.g. {list(lost.items())[:2]}"
    assert len(shown) == system.config.stations

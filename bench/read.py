"""Read benchmark: wrk against the API through the gateway and direct, next to the ceiling.

For each request the exact response bytes are fetched once (and checked: 200, or 304 for the
revalidation), saved as a static file for the private nginx, and then each run measures, back to
back, the ceiling, the gateway and the API directly, so all three share the machine's state of
that moment. No ``Accept-Encoding`` is sent (wrk sends none), so the gateway does not gzip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import wrk
from ceiling import StaticServer
from fuelhub_common.system import LocalSystem
from stats import spread

KAZAN = "55.79,49.12"  # the demo upstream generates stations around real cities, Kazan among them


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    path: str
    revalidate: bool = False  # send If-None-Match with the current ETag: expect 304

    def ceiling_file(self) -> str:
        # A 304's ceiling is the same page served as a 200 (issue 8).
        return self.key.removesuffix("_304") + ".json"


def scenarios(stations: int, detail_id: int) -> list[Scenario]:
    deep = max(0, (stations * 9 // 10) // 100 * 100)
    fuel = quote("АИ-95")
    return [
        Scenario("v1_page", "v1 `limit=100`, offset 0", "/api/v1/fuel-stations?limit=100"),
        Scenario(
            "v1_deep", f"v1 `limit=100&offset={deep}`",
            f"/api/v1/fuel-stations?limit=100&offset={deep}",
        ),
        Scenario(
            "v2_search", f"v2 `fuel=АИ-95&near={KAZAN}&radius_km=50&sort=price&limit=100`",
            f"/api/v2/fuel-stations?fuel={fuel}&near={KAZAN}&radius_km=50&sort=price&limit=100",
        ),
        Scenario("v2_detail", "v2 station detail", f"/api/v2/fuel-stations/{detail_id}"),
        Scenario(
            "v1_page_304", "v1 `limit=100`, `304` revalidation (If-None-Match)",
            "/api/v1/fuel-stations?limit=100", revalidate=True,
        ),
    ]  # fmt: skip


def _fetch(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(url, headers={**headers, "Accept-Encoding": "identity"}, timeout=60)


def prepare(
    system: LocalSystem, scenario: Scenario, token: str, ceiling: StaticServer
) -> dict[str, Any]:
    """Fetch and check the response bytes; the per-target headers and URLs to measure."""
    auth = system.auth(token)
    targets: dict[str, dict[str, Any]] = {}
    for target, base in (("gateway", system.gateway), ("direct", system.api)):
        url = base + scenario.path
        page = _fetch(url, auth)
        if page.status_code != 200:
            raise RuntimeError(f"{scenario.key} via {target}: {page.status_code} {page.text[:300]}")
        headers = dict(auth)
        if scenario.revalidate:
            headers["If-None-Match"] = page.headers["ETag"]
            again = _fetch(url, headers)
            if again.status_code != 304:
                raise RuntimeError(f"{scenario.key} via {target}: {again.status_code}, not 304")
        targets[target] = {"url": url, "headers": headers, "body": page.content}
    body = targets["gateway"]["body"]
    ceiling_url = ceiling.put(scenario.ceiling_file(), body)
    document = json.loads(body)
    return {
        "targets": targets,
        "ceiling_url": ceiling_url,
        "bytes": len(body),
        "results": len(document["results"]) if "results" in document else None,
    }


def measure(
    system: LocalSystem,
    stations: int,
    *,
    runs: int,
    seconds: float,
    connections: int,
    ceiling: StaticServer,
    workdir: Path,
) -> list[dict[str, Any]]:
    """Every scenario ``runs`` times (ceiling, gateway, direct each time); raw and summarised."""
    token = system.token()
    first = httpx.get(
        f"{system.api}/api/v1/fuel-stations",
        params={"limit": 1, "offset": stations // 2},
        headers=system.auth(token),
        timeout=30,
    ).json()
    detail_id = int(first["results"][0]["id"])
    out: list[dict[str, Any]] = []
    for scenario in scenarios(stations, detail_id):
        prepared = prepare(system, scenario, token, ceiling)
        urls = {
            "ceiling": (prepared["ceiling_url"], dict(system.auth(token))),
            **{t: (v["url"], v["headers"]) for t, v in prepared["targets"].items()},
        }
        for url, headers in urls.values():  # warm caches and connections; not counted
            wrk.run(url, headers, workdir=workdir, connections=connections, seconds=1)
        raw: dict[str, list[dict[str, Any]]] = {t: [] for t in urls}
        for _ in range(runs):
            for target, (url, headers) in urls.items():
                result = wrk.run(
                    url, headers, workdir=workdir, connections=connections, seconds=seconds
                )
                raw[target].append(result.as_dict())
        out.append(summarise(scenario, prepared, raw))
        print(f"  read {stations} {scenario.key}: " + ", ".join(
            f"{t} {r['rps']['median']:.0f} req/s" for t, r in out[-1]["targets"].items()
        ), flush=True)  # fmt: skip
    return out


def summarise(
    scenario: Scenario, prepared: dict[str, Any], raw: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    ceiling_median = spread([r["requests_per_s"] for r in raw["ceiling"]])["median"]
    targets: dict[str, Any] = {}
    for target, results in raw.items():
        rps = spread([r["requests_per_s"] for r in results])
        # Each run's ratio is taken against the ceiling measured in the same run.
        ratios = [
            r["requests_per_s"] / c["requests_per_s"]
            for r, c in zip(results, raw["ceiling"], strict=True)
            if c["requests_per_s"]
        ]
        targets[target] = {
            "rps": rps,
            "p50_ms": spread([r["p50_ms"] for r in results]),
            "p99_ms": spread([r["p99_ms"] for r in results]),
            "ratio": spread(ratios),
            "errors": sum(r["errors"] for r in results),
            "requests": sum(r["requests"] for r in results),
        }
    return {
        "key": scenario.key,
        "title": scenario.title,
        "path": scenario.path,
        "bytes": prepared["bytes"],
        "results": prepared["results"],
        "ceiling_rps_median": ceiling_median,
        "targets": targets,
        "raw": raw,
    }

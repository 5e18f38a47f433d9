"""Ingest benchmark: parse, validate, diff and publish (with confirms) N stations.

Runs the demo upstreams in a subprocess (so their memory is not counted), an ingestor in this
process against a private vhost of the local RabbitMQ, and reports for each size the time of a
first (snapshot) poll, of a no-change poll and of a 1% delta poll, and the peak RSS.

    uv run python bench/ingest.py --stations 10000 100000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
from fuelhub_common.testing import broker_url_for_vhost, free_port

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tests.integration.ingest_helpers import ingestor


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_demo(stations: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DEMO_PORT": str(port),
        "DEMO_STATIONS": str(stations),
        "DEMO_EVOLVE": "false",
        "DEMO_SOURCE1_LATENCY": "0",
        "DEMO_SOURCE2_LATENCY": "0",
        "DEMO_CONDITIONAL": "false",
        "DEMO_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(["fuelhub-demo-sources"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{url}/_control/state", timeout=5).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("demo sources did not start")
        time.sleep(0.5)


def make_vhost() -> str:
    vhost = f"fuelhub-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return vhost


def evolve(url: str, steps: int, kind: str) -> None:
    """Change ``steps`` entities upstream (1% of them)."""
    response = httpx.post(
        f"{url}/_control/evolve", params={"steps": steps, "kind": kind}, timeout=120
    )
    response.raise_for_status()


def drop_vhost(vhost: str) -> None:
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, check=False)


async def measure(stations: int, runs: int, kind: str) -> dict[str, Any]:
    from fuelhub_ingest_source1.stations import StationsAdapter
    from fuelhub_ingest_source2.prices import PricesAdapter

    adapter: Any = StationsAdapter() if kind == "stations" else PricesAdapter()
    path = "fuel-stations" if kind == "stations" else "fuel-prices"
    demo, url = start_demo(stations)
    results: dict[str, list[float]] = {"snapshot": [], "no_change": [], "delta_1pct": []}
    base_rss = rss_mb()
    try:
        for _ in range(runs):
            vhost = make_vhost()
            try:
                async with ingestor(broker_url_for_vhost(vhost), adapter, f"{url}/{path}") as svc:
                    started = time.perf_counter()
                    first = await svc.poll_once()
                    results["snapshot"].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    await svc.poll_once()
                    results["no_change"].append(time.perf_counter() - started)
                    await asyncio.to_thread(
                        evolve,
                        url,
                        max(1, stations // 100),
                        "catalog" if kind == "stations" else "prices",
                    )
                    started = time.perf_counter()
                    delta = await svc.poll_once()
                    results["delta_1pct"].append(time.perf_counter() - started)
                    assert first.outcome.value == "succeeded", first.error
                    assert delta.outcome.value == "succeeded", delta.error
            finally:
                await asyncio.to_thread(drop_vhost, vhost)
    finally:
        demo.terminate()
        demo.wait(30)
    return {
        "kind": kind,
        "stations": stations,
        "runs": runs,
        "records": first.records_seen,
        "delta_upserts": delta.upserts,
        "seconds": {k: summary(v) for k, v in results.items()},
        "rss_before_mb": round(base_rss, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kind", choices=["stations", "prices"], default="stations")
    args = parser.parse_args()
    for n in args.stations:
        print(json.dumps(asyncio.run(measure(n, args.runs, args.kind))), flush=True)


if __name__ == "__main__":
    main()

"""Freshness: from a price change in the demo upstream being polled to the new price visible
through the API, the poll interval excluded.

For each change: set one station's price list upstream (``/_control/prices/{id}``) at t_change,
then ask the API (direct, the station detail) every 10 ms until the new price shows, t_visible.
Every poll of Source 2 publishes a ``poll.completed`` event carrying its ``started_at``; a
subscriber queue of our own collects them. The poll that carried the change is the first
*succeeded* one (the demo answers unchanged polls with 304: outcome ``not_modified``) that
finished after t_change (the previous change's poll finished before its price showed,
so before this change began). Freshness = t_visible - max(t_change, its started_at): the time spent
waiting for that poll to begin is the poll interval, excluded. The interval itself only decides
how long the benchmark takes.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from fuelhub_common.system import LocalSystem
from fuelhub_common.testing import EventSink
from fuelhub_common.topology import EVENTS_EXCHANGE, RK_POLL_COMPLETED
from stats import percentile

CHECK_EVERY = 0.01


def _now() -> float:
    return time.time()  # wall clock: compared with the ingestor's started_at timestamps


def _polls(sink: EventSink) -> list[dict[str, Any]]:
    polls = [json.loads(body) for body in sink.bodies(RK_POLL_COMPLETED)]
    return [p for p in polls if p.get("source") == "source2"]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp()


async def measure(system: LocalSystem, changes: int, seed: int = 8) -> dict[str, Any]:
    token = system.token()
    headers = system.auth(token)
    rnd = random.Random(seed)
    samples: list[dict[str, float]] = []
    async with (
        EventSink(system.broker_url, EVENTS_EXCHANGE.name, (RK_POLL_COMPLETED,)) as sink,
        httpx.AsyncClient(timeout=30) as client,
    ):
        page = await client.get(
            f"{system.api}/api/v1/fuel-stations", params={"limit": 1000}, headers=headers
        )
        page.raise_for_status()
        ids = [s["id"] for s in page.json()["results"]]
        for number in range(changes):
            station_id = rnd.choice(ids)
            price = round(40 + number * 0.01 + rnd.random(), 2)
            t_change_start = _now()
            response = await client.post(
                f"{system.demo}/_control/prices/{station_id}",
                json=[{"name": "АИ-95", "price": str(price), "currency": "RUB"}],
            )
            response.raise_for_status()
            t_visible = await _wait_visible(client, system, headers, station_id, price)
            poll = await _carrying_poll(sink, t_change_start)
            started = _ts(poll["started_at"]) if poll else t_change_start
            samples.append(
                {
                    "after_poll_s": t_visible - max(t_change_start, started),
                    "after_change_s": t_visible - t_change_start,
                    # the store's apply and the API's pick-up alone
                    "after_poll_finished_s": t_visible - _ts(poll["finished_at"])
                    if poll
                    else float("nan"),
                    "poll_duration_s": (_ts(poll["finished_at"]) - _ts(poll["started_at"]))
                    if poll
                    else float("nan"),
                }
            )
    after_poll = [s["after_poll_s"] for s in samples]
    return {
        "changes": len(samples),
        "poll_interval_s": system.config.source2_poll_interval,
        "p50_s": percentile(after_poll, 0.5),
        "p99_s": percentile(after_poll, 0.99),
        "max_s": max(after_poll),
        "min_s": min(after_poll),
        "with_interval_p50_s": percentile([s["after_change_s"] for s in samples], 0.5),
        "poll_duration_p50_s": percentile([s["poll_duration_s"] for s in samples], 0.5),
        "after_poll_finished_p50_s": percentile([s["after_poll_finished_s"] for s in samples], 0.5),
        "after_poll_finished_p99_s": percentile(
            [s["after_poll_finished_s"] for s in samples], 0.99
        ),
        "samples": samples,
    }


async def _wait_visible(
    client: httpx.AsyncClient,
    system: LocalSystem,
    headers: dict[str, str],
    station_id: int,
    price: float,
    seconds: float = 120,
) -> float:
    deadline = _now() + seconds
    url = f"{system.api}/api/v2/fuel-stations/{station_id}"
    while _now() < deadline:
        response = await client.get(url, headers=headers)
        if response.status_code == 200:
            fuels = response.json()["station"]["fuels"]
            if any(abs(float(f["price"]) - price) < 1e-6 for f in fuels):
                return _now()
        await asyncio.sleep(CHECK_EVERY)
    raise TimeoutError(f"price {price} of station {station_id} not visible in {seconds} s")


async def _carrying_poll(sink: EventSink, t_change: float) -> dict[str, Any] | None:
    """The first succeeded Source 2 poll that finished after the change (its event is
    published after its change set, so it may arrive a little after the price shows)."""
    deadline = _now() + 10
    while _now() < deadline:
        for poll in _polls(sink):
            if poll.get("outcome") == "succeeded" and _ts(poll["finished_at"]) >= t_change:
                return poll
        await asyncio.sleep(0.02)
    return None

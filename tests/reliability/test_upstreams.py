"""Unreliable upstreams, end to end: demo upstreams → ingestor → RabbitMQ → store → Postgres.

In every case the good data still reaches Postgres, the bad is counted (Prometheus) and logged,
and the store is never corrupted (documents match stations, nothing dead-lettered, no change set
left half applied). After the fault clears, Postgres equals the upstreams exactly.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from fuelhub_common.ingestion.service import IngestionService
from fuelhub_common.testing import free_port
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources
from fuelhub_ingest_source1.stations import StationsAdapter
from fuelhub_ingest_source2.prices import PricesAdapter

from .conftest import (
    DEMO_STATIONS,
    Pipeline,
    StoreState,
    expected_prices,
    expected_state,
    expected_stations,
    ingestor,
    metric,
    settle,
    store_state,
    wait_for_store,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@asynccontextmanager
async def running(
    pipeline: Pipeline, **prices_options: Any
) -> AsyncIterator[tuple[IngestionService, IngestionService]]:
    """Both ingestors, freshly started on the seed data, once Postgres equals the upstreams."""
    pipeline.control("POST", "reset")
    async with AsyncExitStack() as stack:
        stations = await stack.enter_async_context(ingestor(pipeline, StationsAdapter()))
        prices = await stack.enter_async_context(
            ingestor(pipeline, PricesAdapter(), **prices_options)
        )
        for service in (stations, prices):
            assert (await service.poll_once()).outcome.value == "succeeded"
        await wait_for_store(pipeline, expected_state(pipeline))
        yield stations, prices


def change_a_price(pipeline: Pipeline, avoid: Collection[int] = ()) -> int:
    record = next(
        r for r in pipeline.upstream("fuel-prices") if r["fuel_prices"] and r["id"] not in avoid
    )
    fuels = [dict(p) for p in record["fuel_prices"]]
    fuels[0]["price"] = str(Decimal(str(fuels[0]["price"])) + Decimal("1.11"))
    pipeline.control("POST", f"prices/{record['id']}", fuels)
    return int(record["id"])


def change_a_station(pipeline: Pipeline, avoid: Collection[int] = ()) -> int:
    record = next(r for r in pipeline.upstream("fuel-stations") if r["id"] not in avoid)
    record["address"] = f"ул. Надёжная, {record['id']}"
    pipeline.control("POST", "stations", record)
    return int(record["id"])


def logged(caplog: pytest.LogCaptureFixture, message: str, **fields: Any) -> bool:
    return any(
        r.getMessage() == message and all(getattr(r, k, None) == v for k, v in fields.items())
        for r in caplog.records
    )


# --- a whole poll fails: nothing from that poll is applied, the other source still flows ---


@dataclasses.dataclass(frozen=True)
class PollFault:
    name: str
    inject: Callable[[Pipeline], None]
    clear: Callable[[Pipeline], None]
    error: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


def _body(kind: str) -> Callable[[Pipeline], None]:
    return lambda p: p.control("POST", "body", {"endpoint": "prices", "kind": kind})


def _errors(status: int) -> Callable[[Pipeline], None]:
    return lambda p: p.control(
        "POST", "errors", {"endpoint": "prices", "status": status, "rate": 1.0, "retry_after": 1}
    )


POLL_FAULTS = [
    PollFault(
        "timeout",
        lambda p: p.control("POST", "latency", {"prices": 3}),
        lambda p: p.control("POST", "latency", {"prices": 0}),
        "Timeout",
        {"http_timeout": 0.5},
    ),
    PollFault("http_500_burst", _errors(500), lambda p: p.control("DELETE", "errors"), "HTTP 500"),
    PollFault("http_503_burst", _errors(503), lambda p: p.control("DELETE", "errors"), "HTTP 503"),
    PollFault("not_json", _body("not_json"), lambda p: p.control("DELETE", "body"), "JSON"),
    PollFault("object_not_array", _body("object"), lambda p: p.control("DELETE", "body"), "array"),
    PollFault("connection_cut", _body("cut"), lambda p: p.control("DELETE", "body"), "Error"),
]


@pytest.mark.parametrize("fault", POLL_FAULTS, ids=[f.name for f in POLL_FAULTS])
async def test_a_failed_poll_changes_nothing_and_the_next_one_catches_up(
    pipeline: Pipeline, ingest_log: pytest.LogCaptureFixture, fault: PollFault
) -> None:
    async with running(pipeline, **fault.options) as (stations, prices):
        before = store_state(pipeline.db_url)
        changed_price = change_a_price(pipeline)
        fault.inject(pipeline)
        failed = metric("fuelhub_polls_total", source="source2", outcome="failed")

        outcome = await prices.poll_once()

        assert outcome.outcome.value == "failed"
        assert fault.error.lower() in (outcome.error or "").lower(), outcome.error
        assert metric("fuelhub_polls_total", source="source2", outcome="failed") == failed + 1
        assert logged(ingest_log, "poll failed", source="source2")
        # The other source still flows while this one is broken; this one's data stays as was.
        change_a_station(pipeline)
        assert (await stations.poll_once()).outcome.value == "succeeded"
        await wait_for_store(pipeline, StoreState(expected_stations(pipeline), before.prices))

        fault.clear(pipeline)
        assert (await prices.poll_once()).outcome.value == "succeeded"
        caught_up = await wait_for_store(pipeline, expected_state(pipeline))
        assert caught_up.prices[changed_price] != before.prices[changed_price]


async def test_connection_refused_then_the_upstream_comes_back(
    pipeline: Pipeline, ingest_log: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there yet
    async with running(pipeline):
        before = store_state(pipeline.db_url)
        url = f"http://127.0.0.1:{port}/fuel-prices"
        async with ingestor(pipeline, PricesAdapter(), url=url) as prices:
            outcome = await prices.poll_once()
            assert outcome.outcome.value == "failed"
            assert "ConnectError" in (outcome.error or ""), outcome.error
            assert logged(ingest_log, "poll failed", source="source2")
            assert await settle(pipeline) == before

            with run_demo_sources(fast_settings(stations=DEMO_STATIONS), port=port) as back:
                returned = dataclasses.replace(pipeline, demo=back)
                change_a_price(returned)
                assert (await prices.poll_once()).outcome.value == "succeeded"
                await wait_for_store(
                    pipeline, StoreState(expected_stations(pipeline), expected_prices(returned))
                )


# --- bad records: refused (or cleaned), counted and logged, while the rest flows ---

# kind → the reason the ingestor gives (None: the record is cleaned and accepted)
STATION_KINDS: dict[str, str | None] = {
    "wrong_types": "number is not an integer",
    "huge_string": "address too long",
    "null_coordinates": "coordinates are not a [lat, lon] pair",
    "out_of_range_coordinates": "coordinates out of range",
    "nan_coordinates": "latitude is not a finite number",
    "odd_unicode": None,
    "swapped_coordinates": None,  # refused only where the swap is detectable (see the check)
}
PRICE_KINDS: dict[str, str | None] = {
    "wrong_types": "fuel_prices is not a list",
    "huge_string": "fuel name too long",
    "null_price": "price is not a number",
    "negative_price": "price is not positive",
    "zero_price": "price is not positive",
    "non_numeric_price": "price is not a number",
    "nan_price": "price is not a finite number",
    "unknown_currency": "unknown currency",
    "malformed_currency": "malformed currency",
    "odd_unicode": None,
}


def _clean(text: str) -> bool:
    """No control or invisible format character (they would spoof or break clients)."""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text)


@pytest.mark.parametrize("endpoint", ["stations", "prices"])
async def test_bad_records_are_refused_counted_and_logged_while_the_rest_flows(
    pipeline: Pipeline, ingest_log: pytest.LogCaptureFixture, endpoint: str
) -> None:
    kinds = STATION_KINDS if endpoint == "stations" else PRICE_KINDS
    source = "source1" if endpoint == "stations" else "source2"
    path = "fuel-stations" if endpoint == "stations" else "fuel-prices"
    async with running(pipeline) as services:
        service = services[0 if endpoint == "stations" else 1]
        before = store_state(pipeline.db_url)
        pipeline.control(
            "POST", "malformed", {"endpoint": endpoint, "kinds": list(kinds), "count": len(kinds)}
        )
        # The demo corrupts the same records on every response: find them, change others.
        pipeline.upstream(path)
        probe = pipeline.control("GET", "state")["last_faults"][endpoint]["malformed"]
        hit = {m["id"] for m in probe}
        good = (change_a_station if endpoint == "stations" else change_a_price)(pipeline, hit)
        reasons = {r for r in kinds.values() if r}
        counted = {
            r: metric("fuelhub_records_rejected_total", source=source, reason=r) for r in reasons
        }

        outcome = await service.poll_once()

        served = pipeline.control("GET", "state")["last_faults"][endpoint]["malformed"]
        assert {m["kind"] for m in served} == set(kinds)
        kind_of = {m["id"]: m["kind"] for m in served}
        assert outcome.outcome.value == "succeeded"
        assert good not in kind_of
        held = await settle(pipeline)

        pipeline.control("DELETE", "malformed")
        clean = expected_state(pipeline)
        held_entities = held.stations if endpoint == "stations" else held.prices
        clean_entities: dict[int, Any] = clean.stations if endpoint == "stations" else clean.prices
        before_entities: dict[int, Any] = (
            before.stations if endpoint == "stations" else before.prices
        )
        refused = 0
        for entity_id, kind in kind_of.items():
            reason = kinds[kind]
            state = held_entities.get(entity_id)
            if reason is not None:  # refused: the last good state stays, counted and logged
                refused += 1
                assert state == before_entities.get(entity_id), kind
                assert logged(ingest_log, "record rejected", entity_id=entity_id, reason=reason)
            elif kind == "swapped_coordinates":
                lat, lon = clean_entities[entity_id][:2]
                assert state is not None
                if state != before_entities[entity_id]:  # not detectable: taken as given
                    assert state[:2] == (lon, lat)
                else:
                    refused += 1
                    assert logged(ingest_log, "record rejected", entity_id=entity_id)
            else:  # odd Unicode: cleaned, never stored raw
                assert state is not None, kind
                texts: list[str] = (
                    [str(state[3] or "")] if endpoint == "stations" else [str(f[0]) for f in state]
                )
                assert all(_clean(t) for t in texts), texts
        assert outcome.records_rejected == refused
        for reason in reasons:
            expected = sum(1 for i, k in kind_of.items() if kinds[k] == reason)
            now = metric("fuelhub_records_rejected_total", source=source, reason=reason)
            assert now == counted[reason] + expected, reason
        # Everything the fault did not touch is exactly the upstream's, the good change included.
        untouched = {i: s for i, s in clean_entities.items() if i not in kind_of}
        assert {i: s for i, s in held_entities.items() if i not in kind_of} == untouched
        assert held_entities[good] != before_entities[good]

        assert (await service.poll_once()).outcome.value == "succeeded"
        await wait_for_store(pipeline, clean)


@pytest.mark.parametrize("restarted", [False, True], ids=["running", "restarted"])
async def test_a_record_that_lost_its_id_does_not_delete_its_station(
    pipeline: Pipeline, restarted: bool
) -> None:
    """Missing, non-integer or duplicated ids: some record is unnamed, so no absence is sure.

    Running: the ingestor holds the absences (guard). Restarted: its first poll is a snapshot,
    and the store holds them because the change set says it had unidentified records.
    """
    kinds = ["missing_id", "wrong_id_type", "duplicate_id"]
    async with running(pipeline) as (stations, _):
        before = store_state(pipeline.db_url)
        pipeline.control("POST", "malformed", {"endpoint": "stations", "kinds": kinds, "count": 3})
        if restarted:
            async with ingestor(pipeline, StationsAdapter()) as fresh:
                outcome = await fresh.poll_once()
                assert outcome.snapshot
        else:
            outcome = await stations.poll_once()
        assert outcome.outcome.value == "succeeded"
        assert outcome.records_rejected >= 3
        assert outcome.deletions == 0
        assert await settle(pipeline) == before  # nothing deleted, nothing else changed
        pipeline.control("DELETE", "malformed")
        assert (await stations.poll_once()).outcome.value in ("succeeded", "not_modified")
        await wait_for_store(pipeline, expected_state(pipeline))


# --- the mass-deletion guard holds on the real path ---


@pytest.mark.parametrize("restarted", [False, True], ids=["running", "restarted"])
async def test_an_empty_source_deletes_nothing(pipeline: Pipeline, restarted: bool) -> None:
    """Two empty polls (held by the ingestor), or an empty first snapshot (held by the store)."""
    async with running(pipeline) as (_, prices):
        before = store_state(pipeline.db_url)
        held_by_store = metric_from(pipeline, "fuelhub_store_guard_held_deletions_total")
        pipeline.control("POST", "body", {"endpoint": "prices", "kind": "empty"})
        if restarted:
            async with ingestor(pipeline, PricesAdapter()) as fresh:
                outcome = await fresh.poll_once()
                assert outcome.snapshot
        else:
            for _ in range(2):
                outcome = await prices.poll_once()
                assert outcome.deletions == 0
                assert outcome.held_deletions == len(before.prices)
                assert metric("fuelhub_deletions_held", source="source2") > 0
        assert await settle(pipeline) == before
        if restarted:
            assert metric_from(pipeline, "fuelhub_store_guard_held_deletions_total") > held_by_store
        pipeline.control("DELETE", "body")
        assert (await prices.poll_once()).outcome.value in ("succeeded", "not_modified")
        await wait_for_store(pipeline, expected_state(pipeline))


@pytest.mark.parametrize("restarted", [False, True], ids=["running", "restarted"])
async def test_half_the_catalog_missing_for_one_poll_deletes_nothing(
    pipeline: Pipeline, restarted: bool
) -> None:
    async with running(pipeline) as (stations, _):
        before = store_state(pipeline.db_url)
        pipeline.control(
            "POST", "body", {"endpoint": "stations", "kind": "truncated", "drop": 0.5, "times": 1}
        )
        if restarted:
            async with ingestor(pipeline, StationsAdapter()) as fresh:
                outcome = await fresh.poll_once()
        else:
            outcome = await stations.poll_once()
        assert outcome.outcome.value == "succeeded"
        assert outcome.deletions == 0
        assert await settle(pipeline) == before
        # The source is whole again: nothing was lost and nothing is held any more.
        assert (await stations.poll_once()).outcome.value in ("succeeded", "not_modified")
        await wait_for_store(pipeline, expected_state(pipeline))
        assert metric("fuelhub_deletions_held", source="source1") == 0


def metric_from(pipeline: Pipeline, name: str) -> float:
    """Sum of a counter's samples on the store process's /metrics."""
    total = 0.0
    for line in pipeline.store.metrics().splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total

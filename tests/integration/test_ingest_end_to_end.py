"""Ingestion end to end: demo upstreams → ingestor → the real RabbitMQ (a private vhost)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fuelhub_common.events import PollCompleted, PricesChanged, StationsChanged
from fuelhub_common.ingestion import metrics
from fuelhub_common.testing import EventSink
from fuelhub_common.topology import (
    EVENTS_EXCHANGE,
    RK_POLL_COMPLETED,
    RK_PRICES_CHANGED,
    RK_STATIONS_CHANGED,
)
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources
from fuelhub_ingest_source1.stations import StationsAdapter
from fuelhub_ingest_source2.prices import PricesAdapter

from .ingest_helpers import changes, ingestor

pytestmark = pytest.mark.integration


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{url}/_control/{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json() if response.content else None


def upstream(url: str, path: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/{path}", timeout=30).json()  # type: ignore[no-any-return]


def polls(sink: EventSink) -> list[PollCompleted]:
    return [PollCompleted.model_validate_json(b) for b in sink.bodies(RK_POLL_COMPLETED)]


async def test_prices_snapshot_then_only_deltas_then_one_event_per_price_change(
    rabbitmq_url: str,
) -> None:
    with run_demo_sources(fast_settings(stations=60)) as url:
        listed = upstream(url, "fuel-prices")
        async with (
            EventSink(rabbitmq_url, EVENTS_EXCHANGE.name) as sink,
            ingestor(rabbitmq_url, PricesAdapter(), f"{url}/fuel-prices") as service,
        ):
            first = await service.poll_once()
            await sink.wait_for(lambda s: len(s.bodies(RK_POLL_COMPLETED)) == 1)
            parts = [PricesChanged.model_validate_json(b) for b in sink.bodies(RK_PRICES_CHANGED)]
            assert len(parts) == 1
            assert parts[0].snapshot
            assert {c.id for c in parts[0].changes} == {r["id"] for r in listed}
            assert first.upserts == len(listed)
            assert parts[0].change_set_id == first.change_set_id

            # Nothing changed upstream: the conditional GET says so, nothing is published.
            second = await service.poll_once()
            await sink.wait_for(lambda s: len(s.bodies(RK_POLL_COMPLETED)) == 2)
            assert second.outcome.value == "not_modified"
            assert len(sink.bodies(RK_PRICES_CHANGED)) == 1

            station_id = listed[0]["id"]
            control(
                url,
                "POST",
                f"prices/{station_id}",
                [
                    {"name": "АИ-95", "price": "61.37", "currency": "RUB"},
                    {"name": "ДТ", "price": "70.1", "currency": "RUB"},
                ],
            )
            third = await service.poll_once()
            await sink.wait_for(lambda s: len(s.bodies(RK_POLL_COMPLETED)) == 3)
            bodies = sink.bodies(RK_PRICES_CHANGED)
            assert len(bodies) == 2
            delta = PricesChanged.model_validate_json(bodies[1])
            assert not delta.snapshot
            assert third.upserts == 1
            [change] = delta.changes
            assert change.id == station_id
            assert change.op == "upsert"
            raw = changes([bodies[1]])[0]
            assert raw["state"]["prices"] == [  # the full new list, prices exact
                {"fuel": "АИ-95", "price": "61.37", "currency": "RUB"},
                {"fuel": "ДТ", "price": "70.1", "currency": "RUB"},
            ]


async def test_catalog_delta_carries_a_tombstone(rabbitmq_url: str) -> None:
    with run_demo_sources(fast_settings(stations=60)) as url:
        stations = upstream(url, "fuel-stations")
        async with (
            EventSink(rabbitmq_url, EVENTS_EXCHANGE.name, (RK_STATIONS_CHANGED,)) as sink,
            ingestor(rabbitmq_url, StationsAdapter(), f"{url}/fuel-stations") as service,
        ):
            await service.poll_once()
            gone = stations[-1]["id"]
            control(url, "DELETE", f"stations/{gone}")
            outcome = await service.poll_once()
            await sink.wait_for(lambda s: len(s.messages) == 2)
            delta = StationsChanged.model_validate_json(sink.messages[1][2])
            assert [(c.op, c.id) for c in delta.changes] == [("delete", gone)]
            assert outcome.deletions == 1
            assert outcome.held_deletions == 0


async def test_bad_records_are_skipped_and_counted_while_good_ones_flow(
    rabbitmq_url: str,
) -> None:
    kinds = [
        "missing_id",
        "null_coordinates",
        "out_of_range_coordinates",
        "wrong_types",
        "nan_coordinates",
        "huge_string",
    ]
    with run_demo_sources(fast_settings(stations=60)) as url:
        total = len(upstream(url, "fuel-stations"))
        control(url, "POST", "malformed", {"endpoint": "stations", "kinds": kinds, "count": 6})
        before = metrics.RECORDS_REJECTED.labels("source1", "missing id")._value.get()
        async with (
            EventSink(rabbitmq_url, EVENTS_EXCHANGE.name) as sink,
            ingestor(rabbitmq_url, StationsAdapter(), f"{url}/fuel-stations") as service,
        ):
            outcome = await service.poll_once()
            await sink.wait_for(lambda s: len(s.bodies(RK_POLL_COMPLETED)) == 1)
        assert outcome.outcome.value == "succeeded"
        assert outcome.records_rejected == 6
        assert outcome.records_accepted == total - 6
        assert set(outcome.rejections_by_reason) == {
            "missing id",
            "coordinates are not a [lat, lon] pair",
            "coordinates out of range",
            "number is not an integer",
            "latitude is not a finite number",
            "address too long",
        }
        assert len(outcome.rejection_samples) == 6
        [body] = sink.bodies(RK_STATIONS_CHANGED)
        part = StationsChanged.model_validate_json(body)
        assert len(part.changes) == total - 6
        # Rejected records whose id was readable are kept, not treated as deleted.
        assert len(part.kept_ids) == 5
        after = metrics.RECORDS_REJECTED.labels("source1", "missing id")._value.get()
        assert after == before + 1


async def test_bad_prices_are_skipped_and_counted(rabbitmq_url: str) -> None:
    kinds = ["negative_price", "zero_price", "non_numeric_price", "unknown_currency", "nan_price"]
    with run_demo_sources(fast_settings(stations=60)) as url:
        control(url, "POST", "malformed", {"endpoint": "prices", "kinds": kinds, "count": 5})
        async with (
            EventSink(rabbitmq_url, EVENTS_EXCHANGE.name) as sink,
            ingestor(rabbitmq_url, PricesAdapter(), f"{url}/fuel-prices") as service,
        ):
            outcome = await service.poll_once()
            await sink.wait_for(lambda s: len(s.bodies(RK_POLL_COMPLETED)) == 1)
        assert outcome.records_rejected == 5
        assert set(outcome.rejections_by_reason) == {
            "price is not positive",
            "price is not a number",
            "unknown currency",
            "price is not a finite number",
        }
        [body] = sink.bodies(RK_PRICES_CHANGED)
        prices = [p for c in changes([body]) for p in c["state"]["prices"]]
        assert all(float(p["price"]) > 0 for p in prices)


async def test_empty_source_is_held_by_the_guard_until_confirmed(rabbitmq_url: str) -> None:
    with run_demo_sources(fast_settings(stations=40)) as url:
        known = len(upstream(url, "fuel-prices"))
        async with (
            EventSink(rabbitmq_url, EVENTS_EXCHANGE.name) as sink,
            ingestor(rabbitmq_url, PricesAdapter(), f"{url}/fuel-prices") as service,
        ):
            await service.poll_once()
            control(url, "POST", "body", {"endpoint": "prices", "kind": "empty"})
            for expected_held in (known, known):
                outcome = await service.poll_once()
                assert outcome.deletions == 0
                assert outcome.held_deletions == expected_held
                assert metrics.DELETIONS_HELD.labels("source2")._value.get() == known
            assert len(sink.bodies(RK_PRICES_CHANGED)) == 1  # only the first snapshot
            third = await service.poll_once()
            assert third.deletions == known
            await sink.wait_for(lambda s: len(s.bodies(RK_PRICES_CHANGED)) == 2)
            final = changes([sink.bodies(RK_PRICES_CHANGED)[1]])
            assert {c["op"] for c in final} == {"delete"}
            assert len(final) == known


async def test_half_the_catalog_missing_for_one_poll_deletes_nothing(rabbitmq_url: str) -> None:
    with run_demo_sources(fast_settings(stations=60)) as url:
        async with (
            EventSink(rabbitmq_url, EVENTS_EXCHANGE.name, (RK_STATIONS_CHANGED,)) as sink,
            ingestor(rabbitmq_url, StationsAdapter(), f"{url}/fuel-stations") as service,
        ):
            await service.poll_once()
            control(url, "POST", "body", {"endpoint": "stations", "kind": "truncated", "times": 1})
            truncated = await service.poll_once()
            assert truncated.deletions == 0
            assert truncated.held_deletions == 30
            back = await service.poll_once()
            assert back.deletions == 0
            assert back.held_deletions == 0
            await sink.wait_for(lambda s: len(s.messages) == 2)
            ops = {c["op"] for c in changes(sink.bodies(RK_STATIONS_CHANGED)[1:])}
            assert ops == {"upsert"}


@pytest.mark.parametrize("kind", ["not_json", "object", "cut"])
async def test_bad_body_fails_the_poll_and_publishes_nothing(rabbitmq_url: str, kind: str) -> None:
    with run_demo_sources(fast_settings(stations=20)) as url:
        control(url, "POST", "body", {"endpoint": "prices", "kind": kind, "times": 3})
        async with (
            EventSink(rabbitmq_url, EVENTS_EXCHANGE.name) as sink,
            ingestor(rabbitmq_url, PricesAdapter(), f"{url}/fuel-prices") as service,
        ):
            outcome = await service.poll_once()
            assert outcome.outcome.value == "failed"
            assert outcome.error
            assert not service.tracker.primed
            await sink.wait_for(lambda s: len(s.bodies(RK_POLL_COMPLETED)) == 1)
            assert sink.bodies(RK_PRICES_CHANGED) == []
            control(url, "DELETE", "body")
            recovered = await service.poll_once()
            assert recovered.outcome.value == "succeeded"
            assert recovered.snapshot


async def test_oversize_body_is_refused_without_reading_it_all(rabbitmq_url: str) -> None:
    with run_demo_sources(fast_settings(stations=20)) as url:
        control(url, "POST", "body", {"endpoint": "prices", "kind": "huge", "size_mb": 50})
        async with ingestor(
            rabbitmq_url, PricesAdapter(), f"{url}/fuel-prices", max_body_bytes=2 * 1024 * 1024
        ) as service:
            outcome = await service.poll_once()
        assert outcome.outcome.value == "failed"
        assert "exceeds the cap" in (outcome.error or "")


async def test_upstream_errors_are_retried_within_the_poll(rabbitmq_url: str) -> None:
    with run_demo_sources(fast_settings(stations=20)) as url:
        control(url, "POST", "errors", {"endpoint": "prices", "status": 503, "count": 1})
        async with ingestor(rabbitmq_url, PricesAdapter(), f"{url}/fuel-prices") as service:
            outcome = await service.poll_once()
            assert outcome.outcome.value == "succeeded"
            control(url, "POST", "errors", {"endpoint": "prices", "status": 500, "count": 5})
            failed = await service.poll_once()
            assert failed.outcome.value == "failed"
            assert "HTTP 500" in (failed.error or "")


def test_poll_outcome_json_is_the_contract() -> None:
    # The poll event is what the store and the status page read: it must round-trip.
    event = orjson.loads(
        PollCompleted.model_validate(
            {
                "event_id": "0b6f1d7e-0000-4000-8000-000000000001",
                "source": "source2",
                "occurred_at": "2026-01-01T00:00:00Z",
                "poll_id": "0b6f1d7e-0000-4000-8000-000000000001",
                "started_at": "2026-01-01T00:00:00Z",
                "finished_at": "2026-01-01T00:00:01Z",
                "outcome": "succeeded",
            }
        ).model_dump_json()
    )
    assert event["type"] == "poll.completed"
    assert event["schema_version"] == "1"

"""Shared fixtures of the reliability suite: the real data path, and what it must end up holding.

The upstream tests run the real path — demo upstreams → ingestor (the library code both
ingestors run, in this process so a test can drive each poll) → RabbitMQ (a fresh virtual host
on the shared broker) → ``fuelhub-store consume`` (a child process) → Postgres (a fresh,
migrated database) — and compare what Postgres holds with what the upstreams serve.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fuelhub_common.ingestion.service import IngestionService
from fuelhub_common.ingestion.source import SourceAdapter
from fuelhub_common.normalize import FuelNameNormalizer
from fuelhub_common.system import LocalSystem, SystemConfig, run_system
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources
from fuelhub_ingest_source1.stations import StationsAdapter
from fuelhub_ingest_source2.prices import PricesAdapter
from fuelhub_store.db import migrate
from fuelhub_store.testing import StoreProcess
from prometheus_client import REGISTRY

from tests.integration.ingest_helpers import ingestor as shared_ingestor

DEMO_STATIONS = 40

Stations = dict[int, tuple[Any, ...]]
Prices = dict[int, tuple[tuple[str, Decimal, str], ...]]


@dataclass(frozen=True)
class StoreState:
    """What the store holds for clients: live stations and current prices."""

    stations: Stations
    prices: Prices


@dataclass
class Pipeline:
    db_url: str
    broker_url: str
    demo: str
    store: StoreProcess

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.demo}/_control/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def upstream(self, path: str, *, exact: bool = False) -> list[dict[str, Any]]:
        """An upstream's records; ``exact``: numbers as decimals, as the ingestors read them."""
        response = httpx.get(f"{self.demo}/{path}", timeout=30)
        response.raise_for_status()
        if exact:
            return json.loads(response.content, parse_float=Decimal)  # type: ignore[no-any-return]
        return response.json()  # type: ignore[no-any-return]

    def source_url(self, adapter: SourceAdapter) -> str:
        return f"{self.demo}/{'fuel-stations' if adapter.entity == 'station' else 'fuel-prices'}"


@pytest.fixture(scope="module")
def pipeline(
    postgres_database_factory: Callable[[], str],
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """Demo upstreams, a store process on a fresh database and vhost (one per test module)."""
    db_url = postgres_database_factory()
    migrate(db_url)
    broker_url = rabbitmq_vhost_factory()
    store = StoreProcess(db_url, broker_url, tmp_path_factory.mktemp("store"))
    store.start()
    try:
        with run_demo_sources(fast_settings(stations=DEMO_STATIONS)) as demo:
            yield Pipeline(db_url=db_url, broker_url=broker_url, demo=demo, store=store)
    finally:
        assert store.stop() == 0, store.log.read_text()[-3000:]


def ingestor(
    pipeline: Pipeline, adapter: SourceAdapter, *, url: str | None = None, **options: Any
) -> AbstractAsyncContextManager[IngestionService]:
    """The ingestion library exactly as an ingestor process runs it, polled by the test."""
    return shared_ingestor(
        pipeline.broker_url, adapter, url or pipeline.source_url(adapter), **options
    )


def expected_stations(pipeline: Pipeline) -> Stations:
    """The live stations the store must hold for Source 1 as it is now (all records valid)."""
    normalize = FuelNameNormalizer()
    stations: Stations = {}
    for record in pipeline.upstream("fuel-stations", exact=True):
        station_id, state = StationsAdapter().parse(record, normalize)
        s: Any = state
        stations[station_id] = (
            s.latitude,
            s.longitude,
            s.number,
            s.address,
            tuple(s.services),
            tuple(s.image_urls),
        )
    return stations


def expected_prices(pipeline: Pipeline) -> Prices:
    """The current prices the store must hold for Source 2 as it is now (all records valid)."""
    normalize = FuelNameNormalizer()
    prices: Prices = {}
    for record in pipeline.upstream("fuel-prices", exact=True):
        station_id, state = PricesAdapter().parse(record, normalize)
        listed = tuple(sorted((p.fuel, p.price, p.currency) for p in state.prices))  # type: ignore[attr-defined]
        if listed:
            prices[station_id] = listed
    return prices


def expected_state(pipeline: Pipeline) -> StoreState:
    return StoreState(expected_stations(pipeline), expected_prices(pipeline))


def store_state(db_url: str) -> StoreState:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id, latitude, longitude, number, address, services, image_urls"
            " FROM store.stations WHERE NOT deleted"
        ).fetchall()
        stations: Stations = {r[0]: (*r[1:5], tuple(r[5]), tuple(r[6])) for r in rows}
        grouped: dict[int, list[tuple[str, Decimal, str]]] = {}
        for station_id, fuel, price, currency in conn.execute(
            "SELECT p.station_id, f.name, p.price, p.currency"
            " FROM store.current_prices p JOIN store.fuel_types f ON f.id = p.fuel_type_id"
        ):
            grouped.setdefault(station_id, []).append((fuel, price, currency))
    return StoreState(stations, {k: tuple(sorted(v)) for k, v in grouped.items()})


def check_integrity(pipeline: Pipeline) -> None:
    """The store is not corrupted: documents match live stations, nothing dead-lettered."""
    with psycopg.connect(pipeline.db_url) as conn:
        live = {r[0] for r in conn.execute("SELECT id FROM store.stations WHERE NOT deleted")}
        docs = conn.execute(
            "SELECT station_id, doc_v1, doc_v2 FROM store.station_docs WHERE NOT deleted"
        ).fetchall()
        stuck = conn.execute("SELECT count(*) FROM store.change_set_parts").fetchone()
    assert {d[0] for d in docs} == live
    for station_id, v1, v2 in docs:
        assert orjson.loads(v1)["id"] == station_id
        assert orjson.loads(v2)["id"] == station_id
    assert stuck == (0,), "parts of a change set are waiting for ever"
    metrics = pipeline.store.metrics()
    assert 'outcome="dead_lettered"' not in metrics, metrics


async def wait_for_store(
    pipeline: Pipeline, expected: StoreState, *, seconds: float = 30
) -> StoreState:
    """Wait until Postgres holds ``expected``; fail with the difference otherwise."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        held = await asyncio.to_thread(store_state, pipeline.db_url)
        if held == expected or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert held.stations == expected.stations
    assert held.prices == expected.prices
    await asyncio.to_thread(check_integrity, pipeline)
    return held


async def settle(pipeline: Pipeline, seconds: float = 1.5) -> StoreState:
    """The store's state once it stops changing (for 'nothing happened' checks)."""
    previous = await asyncio.to_thread(store_state, pipeline.db_url)
    while True:
        await asyncio.sleep(seconds)
        current = await asyncio.to_thread(store_state, pipeline.db_url)
        if current == previous:
            return current
        previous = current


def metric(name: str, **labels: str) -> float:
    """A sample of this process's Prometheus registry (the in-process ingestor's metrics)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def ingest_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="fuelhub_common.ingestion")
    return caplog


# One whole system for the load and security modules (starting it costs a minute or more on a
# busy 2-core machine): enough stations for real paging, the admin for the admin attacks.
SYSTEM_CONFIG = SystemConfig(
    stations=300, with_admin=True, source1_poll_interval=5.0, source2_poll_interval=2.0
)


@pytest.fixture(scope="session")
def system(
    postgres_database_factory: Callable[[], str],
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalSystem]:
    """The whole system behind the nginx gateway, as `make run` starts it, on free ports."""
    with run_system(
        tmp_path_factory.mktemp("system"),
        SYSTEM_CONFIG,
        database_url=postgres_database_factory(),
        broker_url=rabbitmq_vhost_factory(),
    ) as running:
        running.wait_for_stations(SYSTEM_CONFIG.stations, timeout=300)
        yield running


def data_fingerprint(database_url: str) -> tuple[Any, ...]:
    """A digest of what clients read and of the accounts: any write changes it."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT"
            " (SELECT md5(coalesce(string_agg(station_id || ':' || coalesce(doc_v2, ''), ','"
            "   ORDER BY station_id), '')) FROM store.station_docs),"
            " (SELECT md5(coalesce(string_agg(station_id || fuel_type_id::text || price::text,"
            "   ',' ORDER BY station_id, fuel_type_id), '')) FROM store.current_prices),"
            " (SELECT count(*) FROM store.fuel_types), (SELECT count(*) FROM store.services),"
            " (SELECT md5(string_agg(username || enabled::text || password_hash, ','"
            "   ORDER BY username)) FROM auth.users)"
        ).fetchone()
    assert row is not None
    return tuple(row)

"""Stateful property: whatever happens upstream, on the bus and to the store, once everything
is quiet the API shows exactly the upstreams' final data.

Hypothesis drives random interleavings of

* upstream changes through the demo upstreams' ``/_control/`` (a station added, changed or
  removed; a price list set or removed),
* polls of either ingestor (the real ingestion library, publishing with confirms),
* an ingestor restarted (its memory lost: its next poll is a snapshot),
* duplicate deliveries (a message already published, published again with its id),
* reordered deliveries (messages held back, then released in a drawn order — after newer ones),
* the store killed with SIGKILL (mid-apply or idle) and restarted,

and checks, after a final poll of both sources and an empty queue, that ``/api/v1/fuel-stations``
equals the upstreams (every station of Source 1 with its Source 2 prices), that no change set is
left half-staged and nothing was dead-lettered.

The deletion guard is off on both sides (``GUARD_MAX_SHARE=1``): holding deletions is the guard's
job, tested elsewhere, and would make "the final data" a matter of policy.

Bounded for CI: a handful of examples of a dozen steps, no shrinking (each step talks to real
servers); one store process, database and virtual host serve every example (reset between).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
import psycopg
import pytest
from fuelhub_common.guard import GuardPolicy
from fuelhub_common.ingestion.fetch import RetryPolicy
from fuelhub_common.ingestion.service import IngestConfig, IngestionService
from fuelhub_common.ingestion.source import SourceAdapter
from fuelhub_common.publishing import ConfirmedPublisher
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources
from fuelhub_ingest_source1.stations import StationsAdapter
from fuelhub_ingest_source2.prices import PricesAdapter
from fuelhub_store.db import migrate
from fuelhub_store.testing import StoreProcess
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from .faults import api_on, dead_letters, duplicates_applied, query, queue_depth

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

IDS = (1, 2, 3, 4, 5, 6)
ADDRESSES = ("ул. Первая, 1", "ул. Вторая, 2", None)
SERVICES = ((), ("Мойка",), ("Кафе", "Мойка"))
FUELS = ("АИ-95", "ДТ")
PRICES = ("50", "51.5", "54.9")
NO_GUARD = GuardPolicy(max_share=Decimal(1), confirmations=1)
T = TypeVar("T")


class LoopThread:
    """An event loop in a thread: the state machine's rules are synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 180) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Sent:
    routing_key: str
    body: bytes
    message_id: UUID
    message_type: str


class InterceptingPublisher(ConfirmedPublisher):
    """The ingestors' publisher, able to hold messages back (they count as confirmed for the
    ingestor, and reach the broker only when released) and to publish one again."""

    def __init__(self, url: str, stop: asyncio.Event) -> None:
        super().__init__(url, stop, attempt_timeout=10)
        self.sent: list[Sent] = []
        self.held: list[Sent] = []
        self.holding = False

    async def publish(
        self, routing_key: str, body: bytes, *, message_id: UUID, message_type: str
    ) -> None:
        message = Sent(routing_key, body, message_id, message_type)
        self.sent.append(message)
        if self.holding:
            self.held.append(message)
            return
        await super().publish(routing_key, body, message_id=message_id, message_type=message_type)

    async def again(self, message: Sent) -> None:
        await super().publish(
            message.routing_key,
            message.body,
            message_id=message.message_id,
            message_type=message.message_type,
        )


@dataclass
class World:
    """What every example shares: upstreams, store, API, broker — reset between examples."""

    loop: LoopThread
    demo: str
    db_url: str
    broker_url: str
    tmp: Path
    store: StoreProcess | None = None
    api_get: Callable[[str], Coroutine[Any, Any, httpx.Response]] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    examples: int = 0
    steps: int = 0
    kills: int = 0

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.demo}/_control/{path}", json=body, timeout=30)

    def start_store(self) -> None:
        self.store = StoreProcess(
            self.db_url,
            self.broker_url,
            self.tmp,
            GUARD_MAX_SHARE="1",
            GUARD_CONFIRMATIONS="1",
            STORE_MAX_ATTEMPTS="3",
            STORE_MIGRATE_ON_START="false",
        )
        self.store.start()

    def kill_store(self) -> None:
        assert self.store is not None
        assert self.store.proc is not None
        self.store.proc.send_signal(signal.SIGKILL)
        self.store.proc.wait()

    def reset(self) -> None:
        """Upstreams back to the seed, an empty store; the store process keeps running."""
        self.control("POST", "reset").raise_for_status()
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute(
                "TRUNCATE store.stations, store.station_services, store.price_lists,"
                " store.current_prices, store.price_history, store.station_doc_heads,"
                " store.station_doc_fuels, store.outbox,"
                " store.inbox, store.change_set_parts, store.snapshot_watermarks,"
                " store.absences, store.snapshot_kept"
            )


class Convergence(RuleBasedStateMachine):
    world: World  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.world.examples += 1
        self.services: dict[str, IngestionService] = {}
        self.publishers: list[InterceptingPublisher] = []
        self.client = httpx.AsyncClient(timeout=30)
        self.world.reset()
        for name in ("stations", "prices"):
            self._new_ingestor(name)

    # -- plumbing --------------------------------------------------------------------------

    def _new_ingestor(self, name: str) -> None:
        adapter: SourceAdapter = StationsAdapter() if name == "stations" else PricesAdapter()
        path = "fuel-stations" if name == "stations" else "fuel-prices"
        publisher = InterceptingPublisher(self.world.broker_url, self.world.stop)
        old = self.services.get(name)
        if old is not None:  # a restarted ingestor keeps its held messages in flight
            publisher.holding = old._publisher.holding  # type: ignore[attr-defined]
        self.publishers.append(publisher)
        self.services[name] = IngestionService(
            adapter=adapter,
            config=IngestConfig(
                url=f"{self.world.demo}/{path}",
                poll_interval=3600,
                retry=RetryPolicy(attempts=3, base_delay=0.05),
                guard=NO_GUARD,
            ),
            client=self.client,
            publisher=publisher,
            stop=self.world.stop,
        )

    def _poll(self, name: str) -> None:
        outcome = self.world.loop.run(self.services[name].poll_once())
        assert outcome.outcome.value in ("succeeded", "not_modified"), outcome.error

    @initialize()
    def first_polls(self) -> None:
        """Both ingestors primed (their first, snapshot poll): later changes travel as deltas."""
        self._poll("stations")
        self._poll("prices")

    # -- upstream changes ------------------------------------------------------------------

    @rule(
        station_id=st.sampled_from(IDS),
        address=st.sampled_from(ADDRESSES),
        services=st.sampled_from(SERVICES),
        number=st.integers(0, 3),
    )
    def put_station(
        self, station_id: int, address: str | None, services: tuple[str, ...], number: int
    ) -> None:
        body = {
            "id": station_id,
            "coordinates": [55.75 + station_id / 100, 37.61 + station_id / 100],
            "number": number,
            "address": address,
            "image_urls": [f"https://img.example/{station_id}.jpg"] if number % 2 else [],
            "additional_services": list(services),
        }
        self.world.control("POST", "stations", body).raise_for_status()

    @rule(station_id=st.sampled_from(IDS))
    def remove_station(self, station_id: int) -> None:
        # Keep one station at least: an empty source is the guard's business.
        if len(self._upstream("fuel-stations")) > 1:
            self.world.control("DELETE", f"stations/{station_id}")

    @rule(
        station_id=st.sampled_from(IDS),
        prices=st.dictionaries(st.sampled_from(FUELS), st.sampled_from(PRICES), min_size=1),
    )
    def put_prices(self, station_id: int, prices: dict[str, str]) -> None:
        body = [{"name": f, "price": p, "currency": "RUB"} for f, p in sorted(prices.items())]
        self.world.control("POST", f"prices/{station_id}", body).raise_for_status()

    @rule(station_id=st.sampled_from(IDS))
    def remove_prices(self, station_id: int) -> None:
        if len(self._upstream("fuel-prices")) > 1:
            self.world.control("DELETE", f"prices/{station_id}")

    # -- ingestion and delivery ------------------------------------------------------------

    @rule(name=st.sampled_from(("stations", "prices")))
    def poll(self, name: str) -> None:
        self._poll(name)

    @rule(name=st.sampled_from(("stations", "prices")))
    def restart_ingestor(self, name: str) -> None:
        self._new_ingestor(name)

    @rule(data=st.data())
    def deliver_again(self, data: st.DataObject) -> None:
        sent = [m for p in self.publishers for m in p.sent]
        if sent:
            message = data.draw(st.sampled_from(sent), label="duplicate")
            self.world.loop.run(self.publishers[-1].again(message))

    @rule()
    def hold_deliveries(self) -> None:
        for publisher in self.publishers:
            publisher.holding = True

    @rule(data=st.data())
    def release_held(self, data: st.DataObject) -> None:
        held = [m for p in self.publishers for m in p.held]
        order = data.draw(st.permutations(held), label="release order") if held else []
        self._release(order)

    def _release(self, order: list[Sent]) -> None:
        for publisher in self.publishers:
            publisher.holding = False
            publisher.held.clear()
        for message in order:
            self.world.loop.run(self.publishers[-1].again(message))

    # -- the store -------------------------------------------------------------------------

    @rule(delay=st.sampled_from((0.0, 0.05, 0.3)))
    def kill_store(self, delay: float) -> None:
        """SIGKILL, possibly in the middle of an apply, then start again."""
        time.sleep(delay)
        self.world.kills += 1
        self.world.kill_store()
        self.world.start_store()

    # -- the property ----------------------------------------------------------------------

    @invariant()
    def nothing_dead_lettered(self) -> None:
        self.world.steps += 1
        assert self.world.loop.run(dead_letters(self.world.broker_url)) == 0

    def teardown(self) -> None:
        try:
            self._release([m for p in self.publishers for m in p.held])
            for name in ("stations", "prices"):
                self._poll(name)
            self.world.loop.run(self._quiet())
            assert self._api_view() == self._upstream_view()
            assert query(self.world.db_url, "SELECT count(*) FROM store.change_set_parts") == [(0,)]
            assert duplicates_applied(self.world.db_url) == []
        finally:
            for publisher in self.publishers:
                self.world.loop.run(publisher.close())
            self.world.loop.run(self.client.aclose())

    async def _quiet(self) -> None:
        """Every message published (duplicates and poll outcomes included) is in the inbox:
        the store has committed all of them, and the queue is empty."""
        published = {m.message_id for p in self.publishers for m in p.sent}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = await asyncio.to_thread(
                query, self.world.db_url, "SELECT message_id FROM store.inbox"
            )
            missing = published - {row[0] for row in rows}
            if not missing and await queue_depth(self.world.broker_url) == 0:
                return
            await asyncio.sleep(0.3)
        raise AssertionError(f"{len(missing)} messages never applied")

    def _upstream(self, path: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.world.demo}/{path}", timeout=30)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def _upstream_view(self) -> dict[int, tuple[Any, ...]]:
        prices = {p["id"]: p["fuel_prices"] for p in self._upstream("fuel-prices")}
        return {
            s["id"]: (
                s["coordinates"][0],
                s["coordinates"][1],
                s["number"],
                s["address"],
                tuple(s["image_urls"]),
                tuple(sorted(s["additional_services"])),
                tuple(
                    sorted(
                        (f["name"], Decimal(str(f["price"])), f["currency"])
                        for f in prices.get(s["id"], [])
                    )
                ),
            )
            for s in self._upstream("fuel-stations")
        }

    def _api_view(self) -> dict[int, tuple[Any, ...]]:
        assert self.world.api_get is not None
        response = self.world.loop.run(self.world.api_get("/api/v1/fuel-stations?limit=1000"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["results"])
        return {
            s["id"]: (
                s["coordinate_x"],
                s["coordinate_y"],
                s["number"],
                s["address"],
                tuple(s["image_urls"] or ()),
                tuple(sorted(v["name"] for v in s["services"])),
                tuple(
                    sorted(
                        (f["fuel_type"]["name"], Decimal(str(f["price"])), f["currency"])
                        for f in s["fuels"]
                    )
                ),
            )
            for s in body["results"]
        }


async def _serve_api(
    db_url: str, ready: concurrent.futures.Future[Any], done: asyncio.Event
) -> None:
    """Keep the API app up in one task (its lifespan must end where it began)."""
    async with api_on(db_url) as get:
        ready.set_result(get)
        await done.wait()


async def _event() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def world(
    postgres_database_factory: Callable[[], str],
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path: Path,
) -> Iterator[World]:
    db_url = postgres_database_factory()
    migrate(db_url)
    loop = LoopThread()
    # Only the four stations of the contract samples (two with prices): a small world in which
    # random changes collide often.
    with run_demo_sources(fast_settings(stations=0)) as demo:
        world = World(loop, demo, db_url, rabbitmq_vhost_factory(), tmp_path)
        done = loop.run(_event())
        ready: concurrent.futures.Future[Any] = concurrent.futures.Future()
        serving = asyncio.run_coroutine_threadsafe(_serve_api(db_url, ready, done), loop.loop)
        try:
            world.api_get = ready.result(120)
            world.start_store()
            yield world
        finally:
            loop.loop.call_soon_threadsafe(done.set)
            serving.result(60)
            if world.store is not None and world.store.proc is not None:
                code = world.store.stop()
                assert code == 0, world.store.log.read_text()[-3000:]
            loop.close()


def test_upstream_changes_polls_redeliveries_and_crashes_converge(world: World) -> None:
    Convergence.world = world
    run_state_machine_as_test(
        Convergence,
        settings=settings(
            max_examples=int(os.environ.get("RELIABILITY_EXAMPLES", "5")),
            stateful_step_count=12,
            deadline=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    print(f"convergence: {world.examples} examples, {world.steps} steps, {world.kills} kills")
    assert world.steps > world.examples

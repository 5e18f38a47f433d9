"""The broker misbehaves while the ingestors publish and the store consumes: restarted cleanly,
connections closed under everyone's feet, killed with SIGKILL. Afterwards Postgres equals the
upstreams' final state and nothing was applied twice.

The real path runs on a private RabbitMQ node (``PrivateRabbitMQ``, which these tests restart
and kill): demo upstreams → both ingestors (the library code, in this process so the test can
time a fault to a poll's publishing phase) → the node → ``fuelhub-store consume`` (a child
process) → a fresh Postgres database.

Covered elsewhere (cited in docs/reliability.md): the store SIGKILLed between commit and ack
(``services/store/tests/integration/test_store_consumer.py::test_killed_between_commit_and_ack_
applies_nothing_twice``), poison messages to the DLQ while later ones apply (same file,
``test_poison_goes_to_dead_letter_queue_and_queue_keeps_flowing``).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fuelhub_common.events import PollCompleted
from fuelhub_common.ingestion.service import IngestionService, Phase
from fuelhub_common.testing import PrivateRabbitMQ
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources
from fuelhub_ingest_source1.stations import StationsAdapter
from fuelhub_ingest_source2.prices import PricesAdapter
from fuelhub_store.changeset import ChangeSetPart
from fuelhub_store.db import migrate
from fuelhub_store.testing import StoreProcess, change_set, station

from tests.integration.ingest_helpers import ingestor

from .conftest import Pipeline, check_integrity, expected_state, wait_for_store
from .faults import (
    T0,
    dead_letters,
    duplicates_applied,
    eventually,
    inbox_holds,
    publish,
    query,
    queue_depth,
    rss_kib,
    store_queue_counts,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

STATIONS = 1500


@pytest.fixture
def pipeline_on_private_node(
    private_rabbitmq: PrivateRabbitMQ,
    postgres_database_factory: Callable[[], str],
    tmp_path: Path,
) -> Iterator[Pipeline]:
    db_url = postgres_database_factory()
    migrate(db_url)
    store = StoreProcess(db_url, private_rabbitmq.url, tmp_path, STORE_MAX_ATTEMPTS="2")
    try:
        store.start()
        with run_demo_sources(fast_settings(stations=STATIONS)) as demo:
            yield Pipeline(db_url=db_url, broker_url=private_rabbitmq.url, demo=demo, store=store)
    finally:
        if store.proc is not None and store.proc.poll() is None:
            store.proc.kill()
            store.proc.wait()


async def publishing(service: IngestionService, poll: asyncio.Task[PollCompleted]) -> None:
    """Return once ``service`` is publishing a change set (its parts not all confirmed yet)."""
    while service.phase is not Phase.PUBLISHING:
        assert not poll.done(), "the poll finished before it published"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.1)


async def converged(pipeline: Pipeline) -> None:
    await wait_for_store(pipeline, expected_state(pipeline), seconds=180)
    assert await queue_depth(pipeline.broker_url) == 0
    assert await dead_letters(pipeline.broker_url) == 0
    assert await asyncio.to_thread(duplicates_applied, pipeline.db_url) == []


def churn(pipeline: Pipeline, *, prices: int, stations: int) -> None:
    """Change the first price of ``prices`` price lists and the address of ``stations`` stations,
    picked at random. (Not the demo's own evolution: it can give a list the same fuel twice under
    look-alike names, which the ingestor rightly refuses, and that is the upstream tests' topic.)
    """
    rng = random.Random()
    lists = [r for r in pipeline.upstream("fuel-prices") if r["fuel_prices"]]
    for record in rng.sample(lists, min(prices, len(lists))):
        fuels = [dict(p) for p in record["fuel_prices"]]
        fuels[0]["price"] = str(Decimal(str(fuels[0]["price"])) + Decimal("0.37"))
        pipeline.control("POST", f"prices/{record['id']}", fuels)
    catalog = pipeline.upstream("fuel-stations")
    for record in rng.sample(catalog, min(stations, len(catalog))):
        record["address"] = f"ул. Переменная, {record['id']}, {rng.randrange(10**6)}"
        pipeline.control("POST", "stations", record)


def rabbitmqctl(node: PrivateRabbitMQ, *args: str) -> None:
    subprocess.run(
        [node.CTL, "-n", node.node, *args], env=node._env(), check=True, capture_output=True,
        timeout=60,
    )  # fmt: skip


def close_all_connections(node: PrivateRabbitMQ) -> None:
    rabbitmqctl(node, "close_all_connections", "test: connection dropped")


async def test_broker_restarted_killed_and_disconnected_while_publishing_and_consuming(
    pipeline_on_private_node: Pipeline, private_rabbitmq: PrivateRabbitMQ
) -> None:
    pipeline = pipeline_on_private_node
    node = private_rabbitmq
    async with AsyncExitStack() as stack:
        services = []
        for adapter in (StationsAdapter(), PricesAdapter()):
            service = ingestor(
                pipeline.broker_url,
                adapter,
                pipeline.source_url(adapter),
                max_part_bytes=1024,  # hundreds of parts: a fault lands in the middle of a set
                publish_timeout=5.0,
            )
            services.append(await stack.enter_async_context(service))
        stations, prices = services

        # 1. A clean restart while the first snapshots are being published. A memory alarm
        # (watermark 0) blocks every publish first, so parts are surely in flight, unconfirmed,
        # when the node stops, however fast this machine publishes; a restart clears it.
        await asyncio.to_thread(rabbitmqctl, node, "set_vm_memory_high_watermark", "0")
        polls = [asyncio.create_task(s.poll_once()) for s in (stations, prices)]
        await publishing(stations, polls[0])
        await asyncio.to_thread(node.stop)
        await asyncio.to_thread(node.start)
        for outcome in await asyncio.wait_for(asyncio.gather(*polls), timeout=240):
            assert outcome.outcome.value == "succeeded"
        # The restart hit the publishing: a publisher re-sent what was not confirmed.
        assert stations._publisher.retries + prices._publisher.retries > 0
        await converged(pipeline)

        # 2. Every connection closed by the broker, three times, while both publish and the
        #    store consumes (a network blip, a broker under memory pressure, an operator).
        for _ in range(3):
            await asyncio.to_thread(churn, pipeline, prices=40, stations=10)
            polls = [asyncio.create_task(s.poll_once()) for s in (stations, prices)]
            await publishing(prices, polls[1])
            await asyncio.to_thread(close_all_connections, node)
            for outcome in await asyncio.wait_for(asyncio.gather(*polls), timeout=240):
                assert outcome.outcome.value == "succeeded"
        await converged(pipeline)

        # 3. SIGKILL of the node while the store works through a backlog. (The queues were
        #    declared long ago: see docs/reliability.md for RabbitMQ 3.10 losing a quorum queue
        #    killed within seconds of its declaration.)
        await asyncio.to_thread(churn, pipeline, prices=150, stations=20)
        polls = [asyncio.create_task(s.poll_once()) for s in (stations, prices)]
        await publishing(prices, polls[1])
        await asyncio.to_thread(node.kill)
        await asyncio.sleep(1)
        await asyncio.to_thread(node.start)
        for outcome in await asyncio.wait_for(asyncio.gather(*polls), timeout=300):
            assert outcome.outcome.value == "succeeded"
        await converged(pipeline)

    await asyncio.to_thread(check_integrity, pipeline)
    log = pipeline.store.log.read_text()
    assert await asyncio.to_thread(pipeline.store.stop) == 0, log[-3000:]


def fat_set(step: int, stations: int = 20) -> list[ChangeSetPart]:
    """One change set of ``stations`` stations carrying ~8 KB of image URLs each (~170 KB)."""
    at = T0 + timedelta(seconds=step)
    urls = [f"https://img.example/{step}/{n}/{'x' * 400}.jpg" for n in range(20)]
    changes = [
        station(i, at, address=f"шаг {step}", image_urls=urls) for i in range(1, stations + 1)
    ]
    return change_set(changes, at, snapshot=step == 0)


async def test_consumer_slower_than_producer_drains_in_bounded_memory(
    postgres_database_factory: Callable[[], str],
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path: Path,
) -> None:
    """~34 MB of change sets published faster than the store applies them: the backlog drains,
    every set is applied once, and the store's memory does not grow with the backlog (it holds
    at most ``STORE_PREFETCH`` unacknowledged messages)."""
    db_url = postgres_database_factory()
    migrate(db_url)
    broker_url = rabbitmq_vhost_factory()
    sets = [fat_set(step) for step in range(200)]
    store = StoreProcess(db_url, broker_url, tmp_path)
    try:
        store.start()
        assert store.proc is not None
        await publish(broker_url, sets[0])
        await eventually(lambda: asyncio.to_thread(inbox_holds, db_url, 1), 60, "first set")
        baseline = rss_kib(store.proc.pid)[0]
        samples: list[int] = []
        ready: list[int] = []
        unacked: list[int] = []

        async def sample() -> None:
            while True:
                samples.append(rss_kib(store.proc.pid)[0])  # type: ignore[union-attr]
                counts = await asyncio.to_thread(store_queue_counts, broker_url)
                ready.append(counts[0])
                unacked.append(counts[1])
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        await publish(broker_url, [part for parts in sets[1:] for part in parts])
        published_in = time.monotonic() - started
        await eventually(
            lambda: asyncio.to_thread(inbox_holds, db_url, len(sets)), 300, "backlog drained"
        )
        drained_in = time.monotonic() - started
        sampler.cancel()
        peak = rss_kib(store.proc.pid)[1]
        addresses = query(db_url, "SELECT DISTINCT address FROM store.stations")
        assert addresses == [(f"шаг {len(sets) - 1}",)]
        # Applied concurrently (prefetch 4): a set overtaken by a newer one changes nothing.
        assert 20 <= query(db_url, "SELECT count(*) FROM store.outbox")[0][0] <= 20 * len(sets)
        assert await asyncio.to_thread(duplicates_applied, db_url) == []
        assert await queue_depth(broker_url) == 0
        assert await dead_letters(broker_url) == 0
        print(
            f"backlog: published {len(sets) - 1} sets (~{len(sets) * 170 // 1024} MB) in "
            f"{published_in:.1f} s, drained in {drained_in:.1f} s, ready at most {max(ready)}, "
            f"unacknowledged at most {max(unacked)}; "
            f"store RSS {baseline // 1024} MB after the first set, max sampled "
            f"{max(samples) // 1024} MB, peak (VmHWM) {peak // 1024} MB"
        )
        assert max(ready) > 50, "the consumer kept up: no backlog was built"
        assert max(unacked) <= 4, "the store took more than its prefetch (STORE_PREFETCH=4)"
        assert max(samples) - baseline < 40 * 1024, "store memory grew with the backlog"
        assert await asyncio.to_thread(store.stop) == 0
    finally:
        if store.proc is not None and store.proc.poll() is None:
            store.proc.kill()
            store.proc.wait()

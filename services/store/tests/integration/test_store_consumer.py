"""The consumer process against the real RabbitMQ and Postgres (run as a subprocess)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import psycopg
import pytest
from faststream.rabbit import RabbitBroker
from fuelhub_common.events import PricesApplied, StationApplied
from fuelhub_common.topology import (
    APPLIED_EXCHANGE,
    EVENTS_EXCHANGE,
    RK_PRICES_CHANGED,
    RK_STATIONS_CHANGED,
    STORE_DEAD_LETTER_QUEUE_NAME,
    STORE_QUEUE_NAME,
    declare_topology,
)
from fuelhub_store.changeset import ChangeSetPart
from fuelhub_store.testing import StoreProcess, change_set, price_list, station

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def broker_url(rabbitmq_vhost_factory: Callable[[], str]) -> str:
    return rabbitmq_vhost_factory()


@pytest.fixture
async def publisher(broker_url: str) -> AsyncIterator[RabbitBroker]:
    broker = RabbitBroker(broker_url, logger=None)
    await broker.connect()
    await declare_topology(broker)
    yield broker
    await broker.stop()


@pytest.fixture
def store(
    store_db_url: str, broker_url: str, tmp_path: Path
) -> Iterator[Callable[..., StoreProcess]]:
    made: list[StoreProcess] = []

    def make(**env: str) -> StoreProcess:
        process = StoreProcess(store_db_url, broker_url, tmp_path, **env)
        process.start()
        made.append(process)
        return process

    yield make
    for process in made:
        if process.proc and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


async def publish(broker: RabbitBroker, parts: list[ChangeSetPart]) -> None:
    for part in parts:
        await broker.publish(
            part.model_dump_json().encode(),
            exchange=EVENTS_EXCHANGE,
            routing_key=RK_PRICES_CHANGED if part.type == "prices.changed" else RK_STATIONS_CHANGED,
            message_id=str(part.event_id),
            content_type="application/json",
            persist=True,
        )


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(sql)  # type: ignore[arg-type]
        return await cur.fetchall()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def queue_depth(broker_url: str, name: str) -> int:
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count)


async def test_applies_relays_and_stops_gracefully(
    store: Callable[..., StoreProcess], publisher: RabbitBroker, store_db_url: str, broker_url: str
) -> None:
    connection = await aio_pika.connect(broker_url)
    channel = await connection.channel()
    applied_queue = await channel.declare_queue("test.applied", exclusive=True)
    applied_exchange = await channel.declare_exchange(
        APPLIED_EXCHANGE.name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    await applied_queue.bind(applied_exchange, routing_key="#")

    process = store()
    await publish(publisher, change_set([station(i, T0) for i in (1, 2, 3)], T0, snapshot=True))
    await publish(
        publisher,
        change_set([price_list(1, T0, [("АИ-95", "54.9", "RUB")])], T0, prices=True, parts=1),
    )

    async def applied() -> bool:
        got = await query(store_db_url, "SELECT count(*) FROM store.outbox")
        return bool(got[0][0] == 4)

    await eventually(applied)
    received: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def relayed() -> bool:
        message = await applied_queue.get(no_ack=True, fail=False)
        if message is not None:
            received.append(message)
        return len(received) == 4

    await eventually(relayed)
    # Published in seq order, one message per outbox row, with deterministic ids.
    assert [m.message_id for m in received] == [f"applied-{n}" for n in (1, 2, 3, 4)]
    keys = sorted(m.routing_key or "" for m in received)
    assert keys == ["prices.applied.v1"] + ["stations.applied.v1"] * 3
    for message in received:  # every body validates against the applied-feed contract
        model = StationApplied if message.routing_key == "stations.applied.v1" else PricesApplied
        model.model_validate_json(message.body)
    (prices,) = [m for m in received if m.routing_key == "prices.applied.v1"]
    # Prices are rendered from NUMERIC: the exact decimal, never 54.900 or 54.900000000001.
    body = json.loads(prices.body, parse_float=Decimal)
    assert [str(p["price"]) for p in body["payload"]["prices"]] == ["54.9"]
    metrics = process.metrics()
    assert 'fuelhub_store_messages_total{outcome="applied",type="stations.changed"} 1.0' in metrics
    assert "fuelhub_store_apply_seconds_bucket" in metrics
    await connection.close()
    assert process.stop() == 0
    assert '"message":"change set applied"' in process.log.read_text()


async def test_poison_goes_to_dead_letter_queue_and_queue_keeps_flowing(
    store: Callable[..., StoreProcess], publisher: RabbitBroker, store_db_url: str, broker_url: str
) -> None:
    # Poison data the schema accepts but the database refuses, every time.
    async with await psycopg.AsyncConnection.connect(store_db_url, autocommit=True) as conn:
        await conn.execute(
            """
            CREATE FUNCTION store.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.id = 666 THEN RAISE EXCEPTION 'station 666 is cursed'; END IF;
            RETURN NEW; END $$;
            CREATE TRIGGER test_refuse BEFORE INSERT OR UPDATE ON store.stations
            FOR EACH ROW EXECUTE FUNCTION store.test_refuse();
            """
        )
    process = store(STORE_MAX_ATTEMPTS="3")
    await publisher.publish(
        b'{"not": "an event"', exchange=EVENTS_EXCHANGE, routing_key=RK_STATIONS_CHANGED,
        message_id="garbage-1", persist=True,
    )  # fmt: skip
    await publish(publisher, change_set([station(666, T0)], T0))
    await publish(publisher, change_set([station(1, T0)], T0 + timedelta(minutes=1)))

    async def later_applied() -> bool:
        got = await query(store_db_url, "SELECT count(*) FROM store.station_docs")
        return bool(got[0][0] == 1)

    await eventually(later_applied)

    async def dead_lettered() -> bool:
        return await queue_depth(broker_url, STORE_DEAD_LETTER_QUEUE_NAME) == 2

    await eventually(dead_lettered)
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(STORE_DEAD_LETTER_QUEUE_NAME, passive=True)
        reasons = []
        for _ in range(2):
            message = await dlq.get(no_ack=True)
            reasons.append(str(message.headers["x-fuelhub-error"]))
    assert reasons[0].startswith("undecodable:")
    assert reasons[1].startswith("max_attempts: RaiseException: station 666 is cursed")
    assert await queue_depth(broker_url, STORE_QUEUE_NAME) == 0
    assert 'outcome="dead_lettered"' in process.metrics()
    assert process.stop() == 0


@pytest.mark.slow
async def test_killed_between_commit_and_ack_applies_nothing_twice(
    store: Callable[..., StoreProcess], publisher: RabbitBroker, store_db_url: str, broker_url: str
) -> None:
    doomed = store(STORE_FAULT_KILL_AFTER_COMMIT="true")
    await publish(
        publisher,
        change_set([price_list(i, T0, [("АИ-95", "50", "RUB")]) for i in (1, 2)], T0, prices=True),
    )
    assert doomed.proc is not None
    assert doomed.proc.wait(timeout=30) == -signal.SIGKILL
    counts = "SELECT (SELECT count(*) FROM store.inbox), (SELECT count(*) FROM store.outbox)," \
        " (SELECT count(*) FROM store.price_history)"  # fmt: skip
    committed = await query(store_db_url, counts)
    assert committed == [(1, 2, 2)]
    assert await queue_depth(broker_url, STORE_QUEUE_NAME) == 1  # never acknowledged

    process = store()

    async def drained() -> bool:
        return await queue_depth(broker_url, STORE_QUEUE_NAME) == 0

    await eventually(drained)
    await asyncio.sleep(0.3)
    assert await query(store_db_url, counts) == committed
    assert 'outcome="duplicate",type="prices.changed"} 1.0' in process.metrics()
    assert process.stop() == 0

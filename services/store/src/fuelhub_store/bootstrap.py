"""Wiring the consumer process: pool, broker, subscriber, relay, retention, health port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from faststream.middlewares import AckPolicy
from faststream.rabbit import RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas import Channel
from fuelhub_common.health import HealthServer
from fuelhub_common.topology import STORE_QUEUE, declare_topology

from fuelhub_store.consumer import ChangeFeedConsumer, ConsumerConfig
from fuelhub_store.db import make_pool, migrate
from fuelhub_store.metrics import StoreMetrics
from fuelhub_store.relay import OutboxRelay
from fuelhub_store.retention import RetentionPolicy, prune
from fuelhub_store.settings import StoreSettings

log = logging.getLogger(__name__)


def retention_policy(settings: StoreSettings) -> RetentionPolicy:
    return RetentionPolicy(
        history_days=settings.history_retention_days,
        outbox_days=settings.outbox_retention_days,
        inbox_days=settings.inbox_retention_days,
        tombstone_days=settings.tombstone_retention_days,
        parts_hours=settings.parts_retention_hours,
    )


async def _retention_loop(
    settings: StoreSettings, pool_url: str, metrics: StoreMetrics, stop: asyncio.Event
) -> None:
    pool = make_pool(pool_url, size=1, name="fuelhub-store-retention")
    await pool.open()
    try:
        while not stop.is_set():
            try:
                async with pool.connection() as conn:
                    removed = await prune(conn, retention_policy(settings))
                for table, rows in removed.items():
                    metrics.pruned_rows.labels(table).inc(rows)
                if any(removed.values()):
                    log.info("retention pass", extra={"removed": removed})
            except Exception:
                log.exception("retention pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.retention_interval)
    finally:
        await pool.close()


async def run_consumer(settings: StoreSettings, *, metrics: StoreMetrics | None = None) -> None:
    """Run until SIGTERM/SIGINT: consume, relay, prune; finish the in-flight message first."""
    metrics = metrics or StoreMetrics.create()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if settings.store_migrate_on_start:
        await asyncio.to_thread(migrate, settings.database_url)

    # Every in-flight message holds a connection, and the relay one more: a smaller pool would
    # make handlers time out waiting for it, which would read as failures of their messages.
    pool_size = max(settings.store_db_pool_size, settings.store_prefetch + 1)
    pool = make_pool(settings.database_url, size=pool_size)
    await pool.open()
    broker = RabbitBroker(
        settings.broker_url,
        graceful_timeout=settings.shutdown_timeout,
        # The prefetch is set on the default channel too: declare_topology() declares the queue
        # on it before the subscriber starts, FastStream's declarer caches that queue object, and
        # the subscriber then consumes on the default channel, not on its own — without a limit
        # there the broker pushed the whole backlog into this process (found by
        # tests/reliability/test_broker.py: 266 unacknowledged, +184 MB).
        default_channel=Channel(publisher_confirms=True, prefetch_count=settings.store_prefetch),
        logger=None,
    )
    relay = (
        OutboxRelay(
            pool,
            broker,
            metrics,
            batch=settings.store_relay_batch,
            interval=settings.store_relay_interval,
        )
        if settings.store_relay_enabled
        else None
    )
    consumer = ChangeFeedConsumer(
        ConsumerConfig(
            database_url=settings.database_url,
            policy=settings.guard_policy(),
            max_attempts=settings.store_max_attempts,
            db_retry_max_delay=settings.store_db_retry_max_delay,
            kill_after_commit=settings.store_fault_kill_after_commit,
        ),
        pool,
        broker,
        metrics,
        stop,
        relay,
    )

    async def on_change(message: RabbitMessage) -> None:
        await consumer.on_message(message)

    broker.subscriber(
        STORE_QUEUE,
        ack_policy=AckPolicy.MANUAL,
        channel=Channel(prefetch_count=settings.store_prefetch),
        title="store.changes",
    )(on_change)

    async def db_ready() -> bool:
        async with pool.connection(timeout=1.5) as conn:
            await conn.execute("SELECT 1")
        return True

    async def broker_ready() -> bool:
        return bool(await broker.ping(timeout=1.5))

    health = HealthServer(
        settings.http_host, settings.http_port, {"postgres": db_ready, "rabbitmq": broker_ready}
    )
    await health.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        await broker.connect()
        await declare_topology(broker)
        await broker.start()
        log.info("store consuming", extra={"queue": STORE_QUEUE.name})
        if relay is not None:
            tasks.append(asyncio.create_task(relay.run(stop)))
        tasks.append(
            asyncio.create_task(_retention_loop(settings, settings.database_url, metrics, stop))
        )
        await stop.wait()
        log.info("stopping: finishing in-flight messages")
    finally:
        stop.set()
        await broker.stop()  # cancels consumption, waits up to graceful_timeout for handlers
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=settings.shutdown_timeout)
        await pool.close()
        await health.stop()
        log.info("store stopped")

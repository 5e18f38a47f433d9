"""Postgres unreachable: the consumer holds the message unacknowledged and applies it later.

The shared Postgres must not be stopped, so the consumer reaches it through a TCP fault proxy
(``fuelhub_common.testing.FaultProxy``); cutting it (and every connection through it) is the
outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from faststream.rabbit import RabbitBroker
from fuelhub_common.testing import FaultProxy
from fuelhub_common.topology import EVENTS_EXCHANGE, RK_STATIONS_CHANGED, declare_topology
from fuelhub_store.testing import StoreProcess, change_set, station

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


async def test_waits_for_postgres_then_applies(
    store_db_url: str,
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path: Path,
) -> None:
    parts = urlsplit(store_db_url)
    proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    proxied = proxy.url_through(store_db_url)
    broker_url = rabbitmq_vhost_factory()
    store = StoreProcess(proxied, broker_url, tmp_path, STORE_DB_RETRY_MAX_DELAY="1")
    await asyncio.to_thread(store.start)
    broker = RabbitBroker(broker_url, logger=None)
    try:
        await broker.connect()
        await declare_topology(broker)
        proxy.cut()  # the outage
        for part in change_set(
            [station(1, datetime(2026, 3, 1, tzinfo=UTC))], datetime(2026, 3, 1, tzinfo=UTC)
        ):
            await broker.publish(
                part.model_dump_json().encode(), exchange=EVENTS_EXCHANGE,
                routing_key=RK_STATIONS_CHANGED, message_id=str(part.event_id), persist=True,
            )  # fmt: skip
        deadline = time.monotonic() + 40
        while "postgres unavailable" not in store.log.read_text():
            assert time.monotonic() < deadline, store.log.read_text()
            await asyncio.sleep(0.2)
        ready = await asyncio.to_thread(
            httpx.get, f"http://127.0.0.1:{store.port}/readyz", timeout=5
        )
        assert ready.status_code == 503
        async with await psycopg.AsyncConnection.connect(store_db_url) as conn:
            cur = await conn.execute("SELECT count(*) FROM store.inbox")
            assert await cur.fetchone() == (0,)

        proxy.start()  # Postgres is back (same port)
        deadline = time.monotonic() + 40
        while True:
            async with await psycopg.AsyncConnection.connect(store_db_url) as conn:
                cur = await conn.execute("SELECT count(*) FROM store.station_docs")
                if await cur.fetchone() == (1,):
                    break
            assert time.monotonic() < deadline, store.log.read_text()
            await asyncio.sleep(0.2)
        assert await asyncio.to_thread(store.stop) == 0
    finally:
        await broker.stop()
        if store.proc and store.proc.poll() is None:
            store.proc.kill()
        proxy.close()

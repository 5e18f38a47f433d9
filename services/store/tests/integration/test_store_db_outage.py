"""Postgres unreachable: the consumer holds the message unacknowledged and applies it later.

The shared Postgres must not be stopped, so the consumer reaches it through a TCP proxy in this
test process; closing the proxy (and every connection through it) is the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from faststream.rabbit import RabbitBroker
from fuelhub_common.topology import EVENTS_EXCHANGE, RK_STATIONS_CHANGED, declare_topology
from fuelhub_store.testing import StoreProcess, change_set, station

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_waits_for_postgres_then_applies(
    store_db_url: str,
    rabbitmq_vhost_factory: Callable[[], str],
    tmp_path: Path,
) -> None:
    parts = urlsplit(store_db_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    broker_url = rabbitmq_vhost_factory()
    store = StoreProcess(proxied, broker_url, tmp_path, STORE_DB_RETRY_MAX_DELAY="1")
    await asyncio.to_thread(store.start)
    broker = RabbitBroker(broker_url, logger=None)
    try:
        await broker.connect()
        await declare_topology(broker)
        await proxy.stop()  # the outage
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

        await proxy.start()  # Postgres is back (same port)
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
        with contextlib.suppress(Exception):
            await proxy.stop()

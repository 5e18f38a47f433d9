"""Helpers of the broker, database and convergence tests: a known history of change sets, its
expected end state, publishing it, and the checks that nothing was lost or applied twice.

The TCP fault proxy and the private RabbitMQ/Postgres live in ``fuelhub_common.testing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import httpx
import psycopg
from asgi_lifespan import LifespanManager
from faststream.rabbit import RabbitBroker
from fuelhub_api.app import create_app
from fuelhub_api.testing import AUDIENCE, ISSUER, JWKS_URL, Signer, api_settings
from fuelhub_common.tokens import TokenVerifier
from fuelhub_common.topology import (
    EVENTS_EXCHANGE,
    RK_PRICES_CHANGED,
    RK_STATIONS_CHANGED,
    STORE_DEAD_LETTER_QUEUE_NAME,
    STORE_QUEUE_NAME,
    declare_topology,
)
from fuelhub_store.changeset import ChangeSetPart
from fuelhub_store.testing import change_set, price_list, station

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
FUELS = ("АИ-92", "АИ-95", "ДТ")


@dataclass(frozen=True)
class History:
    """Change sets a pair of ingestors would publish: every set changes every station.

    Station sets move each station's address; price sets move each price, so every price set
    adds exactly ``stations × fuels`` history rows — the exactly-once count.
    """

    sets: list[list[ChangeSetPart]]
    stations: int
    station_sets: int
    price_sets: int

    @property
    def messages(self) -> list[ChangeSetPart]:
        return [part for parts in self.sets for part in parts]

    @property
    def expected_addresses(self) -> dict[int, str]:
        return {i: address(i, self.station_sets - 1) for i in range(1, self.stations + 1)}

    @property
    def expected_prices(self) -> dict[int, list[tuple[str, Decimal]]]:
        step = self.price_sets - 1
        if step < 0:
            return {}
        return {i: [(f, price(i, f, step)) for f in FUELS] for i in range(1, self.stations + 1)}

    @property
    def history_rows(self) -> int:
        """Price-history rows when every set arrives in order. A set that arrives after a newer
        one is superseded and adds none, so out-of-order delivery may leave fewer."""
        return self.price_sets * self.stations * len(FUELS)


def address(station_id: int, step: int) -> str:
    return f"ул. Тестовая, {station_id}, версия {step}"


def price(station_id: int, fuel: str, step: int) -> Decimal:
    return Decimal(40 + FUELS.index(fuel) * 5) + Decimal(station_id % 97) / 100 + step


def make_history(*, stations: int, station_sets: int, price_sets: int, parts: int = 2) -> History:
    """Station and price sets interleaved, each a minute newer than the one before."""
    sets: list[list[ChangeSetPart]] = []
    ids = range(1, stations + 1)
    for step in range(max(station_sets, price_sets)):
        at = T0 + timedelta(minutes=step)
        if step < station_sets:
            changes = [station(i, at, address=address(i, step)) for i in ids]
            sets.append(change_set(changes, at, snapshot=step == 0, parts=parts))
        if step < price_sets:
            lists = [
                price_list(i, at, [(f, str(price(i, f, step)), "RUB") for f in FUELS]) for i in ids
            ]
            sets.append(change_set(lists, at, prices=True, snapshot=step == 0, parts=parts))
    return History(sets, stations, station_sets, price_sets)


def routing_key(part: ChangeSetPart) -> str:
    return RK_PRICES_CHANGED if part.type == "prices.changed" else RK_STATIONS_CHANGED


async def publish(broker_url: str, parts: Sequence[ChangeSetPart]) -> None:
    """Publish parts as an ingestor does (persistent, its message id), with confirms."""
    broker = RabbitBroker(broker_url, logger=None)
    await broker.connect()
    try:
        await declare_topology(broker)
        for part in parts:
            await broker.publish(
                part.model_dump_json().encode(),
                exchange=EVENTS_EXCHANGE,
                routing_key=routing_key(part),
                message_id=str(part.event_id),
                content_type="application/json",
                persist=True,
            )
    finally:
        await broker.stop()


async def queue_depth(broker_url: str, name: str = STORE_QUEUE_NAME) -> int:
    connection = await aio_pika.connect(broker_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


def store_queue_counts(broker_url: str) -> tuple[int, int]:
    """(ready, unacknowledged) messages of the store's queue, as the broker counts them."""
    vhost = unquote(urlsplit(broker_url).path[1:])
    done = subprocess.run(
        ["rabbitmqctl", "list_queues", "-p", vhost, "-q", "--no-table-headers",
         "name", "messages_ready", "messages_unacknowledged"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        name, ready, unacked = line.split()
        if name == STORE_QUEUE_NAME:
            return int(ready), int(unacked)
    raise AssertionError(f"no {STORE_QUEUE_NAME} in {done.stdout!r}")


async def dead_letters(broker_url: str) -> int:
    return await queue_depth(broker_url, STORE_DEAD_LETTER_QUEUE_NAME)


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args or None).fetchall()  # type: ignore[arg-type]


def inbox_holds(url: str, messages: int) -> bool:
    """The store has committed at least ``messages`` distinct messages."""
    return bool(query(url, "SELECT count(*) >= %s FROM store.inbox", messages)[0][0])


@dataclass(frozen=True)
class Held:
    """What the store holds of a :class:`History` (normalised tables and documents)."""

    addresses: dict[int, str]
    prices: dict[int, list[tuple[str, Decimal]]]
    documents: int
    inbox: int
    staged: int
    history_rows: int = field(compare=False)


def held(url: str) -> Held:
    with psycopg.connect(url) as conn:
        addresses: dict[int, str] = dict(
            conn.execute("SELECT id, address FROM store.stations WHERE NOT deleted").fetchall()
        )
        prices: dict[int, list[tuple[str, Decimal]]] = {}
        for station_id, fuel, value in conn.execute(
            "SELECT cp.station_id, f.name, cp.price FROM store.current_prices cp"
            " JOIN store.fuel_types f ON f.id = cp.fuel_type_id ORDER BY 1, 2"
        ):
            prices.setdefault(station_id, []).append((fuel, value))
        prices = {k: sorted(v) for k, v in prices.items()}
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM store.station_docs WHERE NOT deleted),"
            " (SELECT count(*) FROM store.inbox), (SELECT count(*) FROM store.change_set_parts),"
            " (SELECT count(*) FROM store.price_history)"
        ).fetchone()
    assert counts is not None
    return Held(addresses, prices, *counts)


def expected(history: History) -> Held:
    return Held(
        addresses=history.expected_addresses,
        prices={i: sorted(p) for i, p in history.expected_prices.items()},
        documents=history.stations,
        inbox=len(history.messages),
        staged=0,
        history_rows=history.history_rows,
    )


def duplicates_applied(url: str) -> list[tuple[Any, ...]]:
    """Effects recorded twice: a price observation in the history, or an entity version in the
    applied feed (either would mean a change set was applied twice)."""
    return query(
        url,
        "SELECT 'history', station_id, observed_at FROM store.price_history"
        " GROUP BY station_id, fuel_type_id, observed_at HAVING count(*) > 1"
        " UNION ALL SELECT 'outbox', entity_id, event_time FROM store.outbox"
        " GROUP BY kind, entity_id, op, event_time HAVING count(*) > 1",
    )


async def converged(url: str, history: History, *, within: float, log: Path | None = None) -> Held:
    """Wait until the store holds exactly ``history``'s end state; fail with the difference."""
    want = expected(history)
    deadline = time.monotonic() + within
    while True:
        got = await asyncio.to_thread(held, url)
        if got == want or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    tail = await asyncio.to_thread(log_tail, log)
    assert got.addresses == want.addresses, tail
    assert got.prices == want.prices, tail
    assert got == want, f"{got} != {want}\n{tail}"
    # The last price set always adds its rows; an earlier one may be superseded (see History).
    last_set = history.stations * len(FUELS) if history.price_sets else 0
    assert last_set <= got.history_rows <= want.history_rows, tail
    assert await asyncio.to_thread(duplicates_applied, url) == []
    return got


def log_tail(log: Path | None) -> str:
    return log.read_text()[-3000:] if log is not None and log.exists() else ""


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not reached in {within} s: {what}"
        await asyncio.sleep(0.2)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process, in KiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


@contextlib.asynccontextmanager
async def api_on(
    database_url: str,
) -> AsyncIterator[Callable[[str], Awaitable[httpx.Response]]]:
    """The API app in this process on ``database_url`` (no response cache); yields ``get(path)``
    sending a valid token."""
    signer = Signer.generate()
    token = signer.token(ttl=3600)
    async with httpx.AsyncClient(transport=signer.jwks_transport()) as jwks_http:
        verifier = TokenVerifier(
            jwks_url=JWKS_URL, issuer=ISSUER, audience=AUDIENCE, http_client=jwks_http
        )
        app = create_app(api_settings(database_url, api_cache_entries=0), verifier=verifier)
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                async def get(path: str) -> httpx.Response:
                    return await client.get(path, headers={"Authorization": f"Bearer {token}"})

                yield get

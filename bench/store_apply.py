"""Store apply benchmark: first sync, 1% delta and no-change change sets, against local Postgres.

Builds the raw-feed message bodies an ingestor would publish (stations and price lists, split
into parts), then times the store handling them exactly as its consumer does — decode each body,
one transaction per message, the set applied when its last part arrives — from the first part
handed over to the last commit. The broker hop is not included (see docs/store.md).

    uv run python bench/store_apply.py --stations 10000 100000 --runs 3

Prints min/median/max per scenario, and the rows written to the store's data tables by the
no-change change sets (from pg_stat_user_tables), which must be zero.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from fuelhub_common.guard import GuardPolicy
from fuelhub_store.codec import decode
from fuelhub_store.db import configure_session, libpq_url, migrate
from fuelhub_store.memory import gc_paused
from fuelhub_store.service import handle
from fuelhub_store.testing import change_set, price_list, station

DATA_TABLES = (
    "stations", "station_services", "services", "fuel_types", "price_lists", "current_prices",
    "price_history", "station_doc_heads", "station_doc_fuels", "outbox",
)  # fmt: skip
FUELS = ("АИ-92", "АИ-95", "АИ-98", "АИ-95+", "ДТ", "Газ")
SERVICES = ("Мойка", "Замена шин", "Замена масла", "Гаечный ключ", "Подкачка колес", "Пылесос")
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
TRUNCATE = (
    "TRUNCATE " + ", ".join(f"store.{t}" for t in DATA_TABLES)
    + ", store.inbox, store.snapshot_watermarks, store.absences, store.snapshot_kept"
    " RESTART IDENTITY"
)  # fmt: skip


@dataclass
class Source:
    """A deterministic synthetic source of ``n`` stations with 3-6 prices each."""

    n: int
    seed: int = 42

    def __post_init__(self) -> None:
        rnd = random.Random(self.seed)
        self.stations: dict[int, dict[str, Any]] = {
            i: {
                "address": f"ул. Тестовая, {i}, город {rnd.randint(1, 500)}",
                "latitude": f"{rnd.uniform(41, 70):.6f}",
                "longitude": f"{rnd.uniform(20, 180):.6f}",
                "services": tuple(rnd.sample(SERVICES, rnd.randint(0, 4))),
                "images": (f"https://img.example/{i}/1.jpg",) if rnd.random() < 0.5 else (),
            }
            for i in range(1, self.n + 1)
        }
        self.prices = {
            i: [
                (fuel, f"{rnd.uniform(40, 90):.2f}", "RUB")
                for fuel in rnd.sample(FUELS, rnd.randint(3, 6))
            ]
            for i in range(1, self.n + 1)
        }

    def change(self, share: float, rnd: random.Random) -> tuple[list[int], list[int]]:
        """Change ``share`` of the addresses and of the price lists; return the ids changed."""
        k = max(1, int(self.n * share))
        s_ids = rnd.sample(range(1, self.n + 1), k)
        p_ids = rnd.sample(range(1, self.n + 1), k)
        for i in s_ids:
            self.stations[i]["address"] = f"ул. Новая, {rnd.randint(1, 10**6)}"
        for i in p_ids:
            fuel, price, cur = self.prices[i][0]
            self.prices[i][0] = (fuel, f"{float(price) + 0.5:.2f}", cur)
        return s_ids, p_ids

    def station_bodies(
        self, ids: Sequence[int], at: datetime, *, snapshot: bool, part_size: int
    ) -> list[bytes]:
        changes = [
            station(
                i, at, address=s["address"], services=s["services"], latitude=s["latitude"],
                longitude=s["longitude"], image_urls=s["images"],
            )
            for i in ids
            for s in (self.stations[i],)
        ]  # fmt: skip
        parts = max(1, -(-len(changes) // part_size))
        return [
            p.model_dump_json().encode()
            for p in change_set(changes, at, snapshot=snapshot, parts=parts)
        ]

    def price_bodies(
        self, ids: Sequence[int], at: datetime, *, snapshot: bool, part_size: int
    ) -> list[bytes]:
        changes = [price_list(i, at, self.prices[i]) for i in ids]
        parts = max(1, -(-len(changes) // part_size))
        return [
            p.model_dump_json().encode()
            for p in change_set(changes, at, prices=True, snapshot=snapshot, parts=parts)
        ]

    def first_sync(self, part_size: int) -> tuple[list[bytes], list[bytes]]:
        """(the catalog set, the price set) of a first sync: every station, snapshots at T0."""
        ids = list(range(1, self.n + 1))
        return (
            self.station_bodies(ids, T0, snapshot=True, part_size=part_size),
            self.price_bodies(ids, T0, snapshot=True, part_size=part_size),
        )


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """The URL of a fresh, migrated database named ``<prefix>_<random>``; dropped afterwards."""
    admin = libpq_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = admin.rsplit("/", 1)[0] + "/" + name
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DECODE_SECONDS: list[float] = []


async def handle_body(
    conn: psycopg.AsyncConnection[Any], body: bytes, policy: GuardPolicy, decoding: list[float]
) -> None:
    """One message as the consumer handles it: GC paused, decoded (its seconds appended to
    ``decoding``), then one transaction."""
    with gc_paused():
        t = time.perf_counter()
        event = decode(body)
        decoding.append(time.perf_counter() - t)
        await handle(conn, event, body, policy)


async def apply_bodies(conn: psycopg.AsyncConnection[Any], bodies: Sequence[bytes]) -> float:
    """Handle the bodies as the consumer does; seconds from the first to the last commit.

    The share spent validating the bodies (pydantic) is added to ``DECODE_SECONDS``.
    """
    policy = GuardPolicy()
    started = time.perf_counter()
    for body in bodies:
        await handle_body(conn, body, policy, DECODE_SECONDS)
    return time.perf_counter() - started


async def apply_together(
    url: str, bodies: Sequence[bytes], concurrency: int
) -> tuple[float, float]:
    """Handle ``bodies`` in delivery order with up to ``concurrency`` messages in flight, each on
    its own connection: what the consumer does, since aio-pika runs a handler per delivered
    message and the prefetch (``STORE_PREFETCH``) bounds how many are delivered unacknowledged.
    (total seconds to the last commit, of which decoding)."""
    policy = GuardPolicy()
    pending = iter(bodies)
    decoding: list[float] = []

    async def worker(conn: psycopg.AsyncConnection[Any]) -> None:
        for body in pending:  # shared: each body is taken once, in delivery order
            await handle_body(conn, body, policy, decoding)

    conns = [await psycopg.AsyncConnection.connect(url) for _ in range(concurrency)]
    try:
        for conn in conns:
            await configure_session(conn)
            await conn.commit()
        started = time.perf_counter()
        await asyncio.gather(*(worker(conn) for conn in conns))
        return time.perf_counter() - started, sum(decoding)
    finally:
        for conn in conns:
            await conn.close()


def interleaved(*streams: Sequence[bytes]) -> list[bytes]:
    """Parts of sets published at the same time by different ingestors, one of each in turn."""
    return [b for group in itertools.zip_longest(*streams) for b in group if b is not None]


async def timed(conn: psycopg.AsyncConnection[Any], bodies: Sequence[bytes]) -> tuple[float, float]:
    """(total seconds, of which decoding)."""
    DECODE_SECONDS.clear()
    total = await apply_bodies(conn, bodies)
    return total, sum(DECODE_SECONDS)


async def writes(url: str) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        cur = await conn.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
            " WHERE schemaname = 'store' AND relname = ANY(%s)",
            (list(DATA_TABLES),),
        )
        return {r[0]: int(r[1]) for r in await cur.fetchall()}


async def flush_stats(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await conn.commit()
    await conn.execute("SELECT 1")
    await conn.commit()
    await asyncio.sleep(0.2)


async def run_once(
    url: str, n: int, part_size: int, run: int, concurrency: int = 4
) -> dict[str, Any]:
    source = Source(n)
    ids = list(range(1, n + 1))
    rnd = random.Random(run)
    first_s, first_p = source.first_sync(part_size)
    out: dict[str, Any] = {}
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await configure_session(conn)  # as the store's pool does
        await conn.execute(TRUNCATE)
        await conn.commit()
        out["first_sync_stations"], out["first_sync_stations_decode"] = await timed(conn, first_s)
        out["first_sync_prices"], out["first_sync_prices_decode"] = await timed(conn, first_p)
        out["first_sync"] = out["first_sync_stations"] + out["first_sync_prices"]
        out["first_sync_decode"] = (
            out["first_sync_stations_decode"] + out["first_sync_prices_decode"]
        )
        await conn.commit()
        await conn.set_autocommit(True)
        await conn.execute("ANALYZE")  # what autovacuum would do after a bulk load
        await conn.set_autocommit(False)

        t1 = T0 + timedelta(hours=1)
        s_ids, p_ids = source.change(0.01, rnd)
        delta_s = source.station_bodies(sorted(s_ids), t1, snapshot=False, part_size=part_size)
        delta_p = source.price_bodies(sorted(p_ids), t1, snapshot=False, part_size=part_size)
        out["delta_stations"], out["delta_stations_decode"] = await timed(conn, delta_s)
        out["delta_prices"], out["delta_prices_decode"] = await timed(conn, delta_p)

        t2 = T0 + timedelta(hours=2)
        same_s = source.station_bodies(ids, t2, snapshot=True, part_size=part_size)
        same_p = source.price_bodies(ids, t2, snapshot=True, part_size=part_size)
        none_s = source.station_bodies([], t2 + timedelta(seconds=1), snapshot=False,
                                       part_size=part_size)  # fmt: skip
        await flush_stats(conn)
        before = await writes(url)
        out["no_change_snapshot_stations"], out["no_change_snapshot_stations_decode"] = await timed(
            conn, same_s
        )
        out["no_change_snapshot_prices"], out["no_change_snapshot_prices_decode"] = await timed(
            conn, same_p
        )
        out["no_change_delta"], out["no_change_delta_decode"] = await timed(conn, none_s)
        await flush_stats(conn)
        after = await writes(url)
        out["no_change_rows_written"] = {t: after.get(t, 0) - before.get(t, 0) for t in DATA_TABLES}
        # The same first sync once more from empty, both sets delivered together as two
        # ingestors starting at once would publish them, handled as the consumer handles them.
        await conn.execute(TRUNCATE)
        await conn.commit()
    out["first_sync_together"], out["first_sync_together_decode"] = await apply_together(
        url, interleaved(first_s, first_p), concurrency
    )
    async with await psycopg.AsyncConnection.connect(url) as conn:
        # Whichever set committed first, every station must end with its prices in its document.
        cur = await conn.execute(
            "SELECT count(*) FILTER (WHERE fuel_type_ids <> '{}') FROM store.station_docs"
        )
        priced = (await cur.fetchone() or (0,))[0]
        if priced != n:  # every synthetic station has 3-6 prices
            raise RuntimeError(f"first sync together: {priced} of {n} documents have prices")
    out["parts"] = {"first_sync_stations": len(first_s), "first_sync_prices": len(first_p)}
    return out


def summary(values: list[float]) -> str:
    return (
        f"min {min(values):8.3f}s  median {statistics.median(values):8.3f}s"
        f"  max {max(values):8.3f}s"
    )


async def run_apply(
    stations: Sequence[int],
    runs: int,
    part_size: int,
    admin_url: str,
    *,
    concurrency: int = 4,
    verbose: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Every scenario ``runs`` times per size in a fresh database (dropped after); raw figures."""
    report: dict[str, list[dict[str, Any]]] = {}
    with scratch_database(admin_url, "fuelhub_bench") as url:
        for n in stations:
            report[str(n)] = [
                await run_once(url, n, part_size, r, concurrency) for r in range(runs)
            ]
            if verbose:
                print_runs(n, report[str(n)], part_size)
    return report


def print_runs(n: int, runs: list[dict[str, Any]], part_size: int) -> None:
    print(f"\n== {n} stations (3-6 prices each), {len(runs)} runs, parts of "
          f"{part_size} ({runs[0]['parts']})")  # fmt: skip
    for key in SCENARIOS:
        decode_median = statistics.median([r[key + "_decode"] for r in runs])
        print(f"  {key:28s} {summary([r[key] for r in runs])}"
              f"   (of which decoding: median {decode_median:.3f}s)")  # fmt: skip
    written = [sum(r["no_change_rows_written"].values()) for r in runs]
    print(f"  no-change rows written (station/price/history/read model/outbox): {written}")
    print(f"    per table, last run: {runs[-1]['no_change_rows_written']}", flush=True)


SCENARIOS = (
    "first_sync_stations", "first_sync_prices", "first_sync", "first_sync_together",
    "delta_stations", "delta_prices", "no_change_snapshot_stations", "no_change_snapshot_prices",
    "no_change_delta",
)  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, nargs="+", default=[10_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--part-size", type=int, default=2500, help="entities per message part")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="messages in flight for the 'together' first sync (the store's STORE_PREFETCH)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    parser.add_argument("--json-out", help="write the raw figures as JSON to this file")
    args = parser.parse_args()
    report = await run_apply(
        args.stations, args.runs, args.part_size, args.admin_url, concurrency=args.concurrency
    )
    if args.json:
        print(json.dumps(report, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2))  # noqa: ASYNC240 - at exit


if __name__ == "__main__":
    asyncio.run(main())

"""The API's read-model queries at a given size: time per query and the plan's nodes.

Applies a first sync of ``--stations`` (the apply benchmark's synthetic stations and prices) to a
scratch database with the store's own handler, then runs each query the API builds (v1 pages and
counts, v2 lists with every filter and sort, delta sync, station detail, the read-model version)
``--repeat`` times after two warm-ups and prints the median, with ``--plans`` the plan's nodes.
What a change to the read model costs the readers (docs/store.md, session 5):

    uv run --frozen python bench/read_queries.py --stations 100000 --plans

The queries come from ``fuelhub_api.queries`` and ``fuelhub_api.repository`` (their SQL
constants), not copies, so a change there is measured as it is. One statement at a time, no
concurrency: the wrk figures of ``bench/read.py`` are the throughput view.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from fuelhub_api import repository
from fuelhub_api.cursors import Keyset
from fuelhub_api.params import BBox, Point, StationFilter
from fuelhub_api.queries import ResolvedFilter, station_count_sql
from fuelhub_store.db import configure_session
from store_apply import Source, scratch_database, timed

Query = tuple[str, Any]


def queries(conn: psycopg.Connection[Any]) -> dict[str, Query]:
    """Every read the API makes of the read model, with arguments from the data."""
    counted = conn.execute("SELECT count(*) FROM store.station_docs").fetchone()
    total = counted[0] if counted else 0
    row = conn.execute(
        "SELECT (SELECT min(id) FROM store.fuel_types), (SELECT min(id) FROM store.services),"
        " (SELECT max(seq) FROM store.station_doc_fuels), latitude, longitude, station_id"
        " FROM store.station_docs WHERE NOT deleted ORDER BY station_id OFFSET %s LIMIT 1",
        (total // 20,),
    ).fetchone()
    assert row is not None, "no documents"
    fuel, service, max_seq, lat, lon, some_id = row
    deep = total * 9 // 10

    def rf(fuel_id: int | None = None, service_ids: tuple[int, ...] = (), **kw: Any) -> Query:
        return repository.station_list_statement(
            ResolvedFilter(StationFilter(**kw), fuel_id, service_ids)
        )

    box = BBox(min_lon=lon - 0.5, min_lat=lat - 0.5, max_lon=lon + 0.5, max_lat=lat + 0.5)
    near = Point(lat=lat, lon=lon)
    v1 = repository.v1_page_sql(with_count=False)
    count_sql, count_params = station_count_sql(ResolvedFilter(StationFilter(fuel="x"), fuel, ()))
    return {
        "v1 page, offset 0": (v1, (100, 0)),
        f"v1 page, offset {deep}": (v1, (100, deep)),
        "v1 count": (f"SELECT {repository.V1_COUNT_SQL}", None),
        "v2 by id": rf(),
        "v2 by id, after the middle": rf(after=Keyset(sort="id", station_id=some_id * 10)),
        "v2 fuel": rf(fuel, fuel="x"),
        "v2 fuel + service": rf(fuel, (service,), fuel="x", services=("y",)),
        "v2 fuel, sort=price": rf(fuel, fuel="x", sort="price"),
        "v2 sort=number": rf(sort="number"),
        "v2 bbox 1x1 degree": rf(bbox=box),
        "v2 near 20 km, sort=distance": rf(near=near, radius_km=20, sort="distance"),
        "v2 near 20 km + fuel": rf(fuel, near=near, radius_km=20, fuel="x"),
        "v2 updated_since (all)": rf(updated_since=datetime(2020, 1, 1, tzinfo=UTC)),
        "v2 updated_since (none)": rf(updated_since=datetime.now(UTC)),
        "v2 count, fuel": (count_sql, count_params),
        "delta page from 0": (repository.DELTA_SQL, {"seq": 0, "sid": 2**63 - 1, "limit": 1001}),
        "delta page, last 10 changes": (
            repository.DELTA_SQL, {"seq": max_seq - 10, "sid": 2**63 - 1, "limit": 1001},
        ),
        "station detail": (repository.STATION_SQL, (some_id,)),
        "read-model version": (f"SELECT {repository.VERSION_SQL}", None),
    }  # fmt: skip


def _plan_nodes(conn: psycopg.Connection[Any], query: str, params: Any) -> list[str]:
    """The plan's scans, joins, sorts and aggregates, without the version's two index probes."""
    nodes = []
    for (text,) in conn.execute("EXPLAIN " + query, params).fetchall():
        if "cost=" not in text or "(seq IS NOT NULL)" in text:
            continue
        node = re.sub(r"^->\s*", "", re.sub(r"\s+\(cost.*", "", text).strip())
        if node.startswith(("Result", "Limit")) or (
            "Backward using" in node and ("outbox_pkey" in node or "fuels_seq_idx" in node)
        ):
            continue
        nodes.append(node)
    return nodes


def measure(conn: psycopg.Connection[Any], repeat: int, plans: bool) -> None:
    for name, (query, params) in queries(conn).items():
        for _ in range(2):
            conn.execute(query, params).fetchall()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            conn.execute(query, params).fetchall()
            times.append((time.perf_counter() - started) * 1000)
        line = f"{statistics.median(times):8.2f} ms  {name}"
        if plans:
            line += "\n             " + " | ".join(_plan_nodes(conn, query, params))
        print(line)


async def load(url: str, stations: int) -> None:
    catalog, prices = Source(stations).first_sync(part_size=2500)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await configure_session(conn)
        await conn.commit()
        await timed(conn, catalog)
        await timed(conn, prices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--plans", action="store_true", help="print each query's plan nodes")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with scratch_database(args.admin_url, "fuelhub_reads") as url:
        name = url.rsplit("/", 1)[1]
        print(f"scratch database {name} (dropped at the end), {args.stations} stations", flush=True)
        asyncio.run(load(url, args.stations))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load
            measure(conn, args.repeat, args.plans)


if __name__ == "__main__":
    main()

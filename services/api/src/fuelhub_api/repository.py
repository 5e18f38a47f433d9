"""Reads from the store's read model (schema ``store``, see docs/read-model.md).

Every function is one statement on an autocommit connection, so each answer comes from one
consistent snapshot (the read-model version returned with it included). Document texts are
loaded as bytes and never parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg.adapt import Loader

from fuelhub_api.cursors import SyncCursor
from fuelhub_api.params import BBox
from fuelhub_api.queries import ResolvedFilter, station_count_sql, station_list_sql

Conn = AsyncConnection[Any]

# The read-model version: the largest applied position visible. Documents keep their seq after
# retention prunes old outbox rows, so both are consulted (both by index, both committed-only).
# A document's seq lives in its fuels part (store migration 0007); read from the table itself,
# since max() over the ``station_docs`` view would not use the index.
VERSION_SQL = (
    "(SELECT greatest((SELECT max(seq) FROM store.outbox),"
    " (SELECT max(seq) FROM store.station_doc_fuels), 0))"
)
HORIZON_SQL = "(SELECT min(seq) FROM store.outbox)"
_MAX_BIGINT = 2**63 - 1


class _RawTextLoader(Loader):
    """Loads ``text`` as the bytes Postgres sent: document texts go to the client unparsed."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def _raw_cursor(conn: Conn) -> AsyncCursor[Any]:
    cur = conn.cursor()
    cur.adapters.register_loader("text", _RawTextLoader)
    return cur


@dataclass(frozen=True)
class Snapshot:
    version: int
    data_as_of: dict[str, str | None]


async def fetch_snapshot(conn: Conn) -> Snapshot:
    """The read-model version (largest applied seq) and each source's last successful poll."""
    cur = await conn.execute(
        f"SELECT {VERSION_SQL}, (SELECT coalesce(json_object_agg(source, "  # noqa: S608 (constant)
        "to_char(last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        " ORDER BY source), '{}') FROM store.source_status)"
    )
    row = await cur.fetchone()
    assert row is not None
    return Snapshot(version=int(row[0]), data_as_of=dict(row[1]))


V1_COUNT_SQL = "(SELECT count(*) FROM store.station_docs WHERE NOT deleted)"


def v1_page_sql(*, with_count: bool) -> str:
    """(version, count or NULL, the page's documents joined by commas); binds limit, offset.

    The page's keys first, its documents after: the skipped rows of a deep offset read only the
    catalog part of the read model (docs/read-model.md).
    """
    count = V1_COUNT_SQL if with_count else "NULL"
    return (
        f"SELECT {VERSION_SQL}, {count}, (SELECT coalesce(string_agg(d.doc_v1, ','"  # noqa: S608
        " ORDER BY d.station_id), '') FROM (SELECT station_id FROM store.station_docs"
        " WHERE NOT deleted ORDER BY station_id LIMIT %s OFFSET %s) p"
        " JOIN store.station_docs d ON d.station_id = p.station_id)"
    )


async def fetch_v1_page(
    conn: Conn, *, limit: int, offset: int, with_count: bool
) -> tuple[int, int | None, bytes]:
    """(version, count or None, the page's ``doc_v1`` texts joined by commas)."""
    async with _raw_cursor(conn) as cur:
        await cur.execute(v1_page_sql(with_count=with_count), (limit, offset))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), (None if row[1] is None else int(row[1])), row[2]


@dataclass(frozen=True)
class StationRow:
    station_id: int
    number: int | None
    currency: str | None
    price: Decimal | None
    distance_m: float | None
    doc: bytes


def station_list_statement(q: ResolvedFilter) -> tuple[str, dict[str, Any]]:
    """The v2 list query with the read-model version: rows (version, StationRow's fields)."""
    sql, params = station_list_sql(q)
    return (
        f"SELECT v.version, r.* FROM (SELECT {VERSION_SQL} AS version) v"  # noqa: S608
        f" LEFT JOIN LATERAL ({sql}) r ON true",
        params,
    )


async def fetch_station_list(conn: Conn, q: ResolvedFilter) -> tuple[int, list[StationRow]]:
    """(version, up to limit + 1 rows) in one statement."""
    async with _raw_cursor(conn) as cur:
        await cur.execute(*station_list_statement(q))
        rows = await cur.fetchall()
    version = int(rows[0][0])
    stations = [
        StationRow(
            station_id=r[1],
            number=r[2],
            currency=r[3].decode() if isinstance(r[3], bytes) else r[3],
            price=r[4],
            distance_m=r[5],
            doc=r[6],
        )
        for r in rows
        if r[1] is not None
    ]
    return version, stations


async def count_stations(conn: Conn, q: ResolvedFilter) -> int:
    sql, params = station_count_sql(q)
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class DeltaRow:
    station_id: int
    seq: int
    doc: bytes


@dataclass(frozen=True)
class FeedBounds:
    """The newest applied position and the oldest one still retained (None: none retained)."""

    upto: int
    horizon: int | None

    def lost(self, after_seq: int) -> bool:
        """Whether changes after ``after_seq`` may have been pruned (tombstones included)."""
        if self.horizon is None:
            return after_seq < self.upto
        # Gaps (rolled-back positions) can only make this say "lost" too early: the safe side.
        return after_seq + 1 < self.horizon


async def fetch_feed_bounds(conn: Conn) -> FeedBounds:
    cur = await conn.execute(f"SELECT {VERSION_SQL}, {HORIZON_SQL}")
    row = await cur.fetchone()
    assert row is not None
    return FeedBounds(int(row[0]), None if row[1] is None else int(row[1]))


DELTA_SQL = (
    f"SELECT v.upto, v.horizon, r.station_id, r.seq, r.doc FROM"  # noqa: S608
    f" (SELECT {VERSION_SQL} AS upto, {HORIZON_SQL} AS horizon) v"
    " LEFT JOIN LATERAL (SELECT d.station_id, d.seq, CASE WHEN d.deleted THEN"
    """ '{"id":' || d.station_id || ',"deleted":true}' ELSE d.doc_v2 END AS doc"""
    " FROM store.station_docs d WHERE d.seq >= %(seq)s AND d.seq <= v.upto"
    " AND (d.seq > %(seq)s OR d.station_id > %(sid)s)"
    " ORDER BY d.seq, d.station_id LIMIT %(limit)s) r ON true"
)


async def fetch_delta(
    conn: Conn, since: SyncCursor, limit: int
) -> tuple[FeedBounds, list[DeltaRow]]:
    """(bounds, rows): every station whose last change is after ``since`` and at most
    ``bounds.upto`` (the snapshot's largest applied seq), in ``(seq, station_id)`` order,
    limit + 1 rows."""
    async with _raw_cursor(conn) as cur:
        await cur.execute(
            DELTA_SQL,
            {
                "seq": since.seq,
                # A cursor without a station means every change at ``seq`` is done.
                "sid": since.station_id or _MAX_BIGINT,
                "limit": limit + 1,
            },
        )
        rows = await cur.fetchall()
    bounds = FeedBounds(int(rows[0][0]), None if rows[0][1] is None else int(rows[0][1]))
    return bounds, [DeltaRow(r[2], r[3], r[4]) for r in rows if r[2] is not None]


STATION_SQL = (
    f"SELECT v.version, d.doc_v2 FROM (SELECT {VERSION_SQL} AS version) v"  # noqa: S608
    " LEFT JOIN store.station_docs d ON d.station_id = %s AND NOT d.deleted"
)


async def fetch_station(conn: Conn, station_id: int) -> tuple[int, bytes | None]:
    """(version, the station's ``doc_v2`` or None when unknown or deleted)."""
    async with _raw_cursor(conn) as cur:
        await cur.execute(
            STATION_SQL,
            (station_id,),
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), row[1]


@dataclass(frozen=True)
class CatalogEntry:
    id: int
    name: str
    source_name: str
    icon: str | None


async def fetch_catalog(conn: Conn, table: str) -> list[CatalogEntry]:
    """Every fuel type or service (``table`` is one of two constants, never client text)."""
    if table not in ("fuel_types", "services"):
        raise ValueError(table)
    cur = await conn.execute(
        f"SELECT id, coalesce(display_name, name), name, icon_path FROM store.{table}"  # noqa: S608
        " ORDER BY id"
    )
    return [CatalogEntry(int(r[0]), r[1], r[2], r[3]) for r in await cur.fetchall()]


async def fetch_price_history(
    conn: Conn,
    *,
    station_id: int,
    fuel_id: int | None,
    since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[bool, list[tuple[datetime, int, bytes]]]:
    """(station known?, rows of (observed_at, fuel_type_id, JSON text)), oldest first."""
    params: dict[str, Any] = {"sid": station_id, "limit": limit + 1}
    where = ["h.station_id = %(sid)s"]
    if fuel_id is not None:
        where.append("h.fuel_type_id = %(fuel)s")
        params["fuel"] = fuel_id
    if since is not None:
        where.append("h.observed_at >= %(since)s")
        params["since"] = since
    if after is not None:
        where.append("(h.observed_at, h.fuel_type_id) > (%(a_at)s, %(a_fuel)s)")
        params.update(a_at=after[0], a_fuel=after[1])
    async with _raw_cursor(conn) as cur:
        await cur.execute(
            "SELECT EXISTS (SELECT 1 FROM store.station_docs WHERE station_id = %(sid)s),"  # noqa: S608
            " r.observed_at, r.fuel_type_id, r.doc FROM (SELECT 1) one LEFT JOIN LATERAL ("
            " SELECT h.observed_at, h.fuel_type_id, row_to_json((SELECT x FROM (SELECT"
            " h.fuel_type_id, coalesce(ft.display_name, ft.name) AS fuel_type,"
            " trim_scale(h.price) AS price, h.currency::text AS currency, h.observed_at,"
            " h.recorded_at) x))::text AS doc FROM store.price_history h"
            " LEFT JOIN store.fuel_types ft ON ft.id = h.fuel_type_id"
            f" WHERE {' AND '.join(where)} ORDER BY h.observed_at, h.fuel_type_id"
            " LIMIT %(limit)s) r ON true",
            params,
        )
        rows = await cur.fetchall()
    known = bool(rows[0][0])
    return known, [(r[1], r[2], r[3]) for r in rows if r[1] is not None]


@dataclass(frozen=True)
class FeedRow:
    seq: int
    kind: str
    entity_id: int | None
    op: str
    data: bytes


async def fetch_feed(
    conn: Conn,
    *,
    after_seq: int,
    limit: int,
    station_ids: tuple[int, ...] = (),
    bbox: BBox | None = None,
) -> list[FeedRow]:
    """Applied changes after ``after_seq`` from the outbox, oldest first, optionally only those
    about given stations or stations inside a box."""
    params: dict[str, Any] = {"after": after_seq, "limit": limit}
    where = ["o.seq > %(after)s"]
    join = ""
    if station_ids:
        where.append("o.entity_id = ANY(%(ids)s)")
        params["ids"] = list(station_ids)
    if bbox is not None:
        join = " JOIN store.station_docs d ON d.station_id = o.entity_id"
        where.append("d.latitude BETWEEN %(min_lat)s AND %(max_lat)s")
        where.append("d.longitude BETWEEN %(min_lon)s AND %(max_lon)s")
        params.update(
            min_lat=bbox.min_lat, max_lat=bbox.max_lat, min_lon=bbox.min_lon, max_lon=bbox.max_lon
        )
    async with _raw_cursor(conn) as cur:
        await cur.execute(
            "SELECT o.seq, o.kind, o.entity_id, o.op, row_to_json((SELECT x FROM (SELECT"  # noqa: S608
            " o.seq, o.kind, o.entity_id AS id, o.op, o.event_time, o.committed_at,"
            " o.payload::json AS payload) x))::text"
            f" FROM store.outbox o{join} WHERE {' AND '.join(where)} ORDER BY o.seq"
            " LIMIT %(limit)s",
            params,
        )
        rows = await cur.fetchall()
    return [FeedRow(int(r[0]), r[1].decode(), r[2], r[3].decode(), r[4]) for r in rows]


async def ping(conn: Conn) -> None:
    await conn.execute("SELECT 1 FROM store.outbox LIMIT 1")

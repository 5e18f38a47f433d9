"""Publishing a transaction's effective changes: outbox rows, read-model documents, NOTIFY.

The caller fills the temporary table ``touched`` (see :func:`create_touched`) with the
stations it effectively changed; :func:`publish_touched` then, under the feed's advisory lock,
allocates commit-ordered positions, writes the outbox and rebuilds exactly those stations'
documents. Documents are built while holding the lock so each build sees every transaction
committed before it (concurrent appliers of stations and prices cannot overwrite each other's
document with a stale one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from psycopg import AsyncConnection

FEED_LOCK_KEY: Final = 73110
NOTIFY_CHANNEL: Final = "fuelhub_applied"
# The seed contract's currencies; v1 documents carry only these.
V1_CURRENCIES: Final = ("RUB", "USD", "EUR", "RSD")

CREATE_TOUCHED = """
CREATE TEMP TABLE IF NOT EXISTS touched (
    station_id bigint NOT NULL,
    kind text NOT NULL,          -- 'station' (catalog) or 'prices' (price list)
    op text NOT NULL,            -- 'upsert' or 'delete'
    event_time timestamptz NOT NULL,
    PRIMARY KEY (station_id, kind)
) ON COMMIT DROP
"""

ALLOCATE = """
CREATE TEMP TABLE new_outbox ON COMMIT DROP AS
SELECT nextval('store.outbox_seq') AS seq, t.station_id, t.kind, t.op, t.event_time
FROM (SELECT * FROM touched ORDER BY station_id, kind) AS t
"""

# Price lists are aggregated once for the whole set (a hash join and one grouping), not with a
# per-row subquery: at 100,000 stations that is the difference between seconds and a minute.
# Payloads are JSON rendered as ``text`` by ``concat()`` (migration 0006): nothing queries inside
# them, and a ``json`` or ``jsonb`` column would parse each one again on insert (100,000 price
# lists: 3.9 s → 2.8 s). Every value that may be NULL is rendered through coalesce(…, 'null'),
# since concat() would drop it; strings go through to_json() for escaping.
INSERT_OUTBOX = """
WITH ft AS (
    SELECT f.id, concat('{"fuel":', to_json(f.name), ',"fuel_type_id":', f.id) AS json
    FROM store.fuel_types AS f
), pr AS (
    SELECT cp.station_id,
        string_agg(concat(ft.json, ',"price":', trim_scale(cp.price), ',"currency":',
                          to_json(cp.currency::text), '}'), ',' ORDER BY cp.fuel_type_id) AS prices
    FROM new_outbox AS n
    JOIN store.current_prices AS cp ON cp.station_id = n.station_id
    JOIN ft ON ft.id = cp.fuel_type_id
    WHERE n.kind = 'prices' AND n.op = 'upsert'
    GROUP BY cp.station_id
)
INSERT INTO store.outbox (seq, kind, entity_id, op, payload, event_time, committed_at)
SELECT n.seq, n.kind, n.station_id, n.op,
    CASE
    WHEN n.kind = 'station' AND n.op = 'delete' THEN concat(
        '{"id":', n.station_id, ',"version":', coalesce(to_json(s.version)::text, 'null'), '}')
    WHEN n.kind = 'station' THEN concat(
        '{"id":', s.id,
        ',"latitude":', coalesce(trim_scale(s.latitude)::text, 'null'),
        ',"longitude":', coalesce(trim_scale(s.longitude)::text, 'null'),
        ',"number":', coalesce(s.number::text, 'null'),
        ',"address":', coalesce(to_json(s.address)::text, 'null'),
        ',"image_urls":', coalesce(array_to_json(s.image_urls)::text, 'null'),
        ',"services":', coalesce(array_to_json(s.services)::text, 'null'),
        ',"version":', to_json(s.version), '}')
    ELSE concat(
        '{"station_id":', n.station_id, ',"version":', coalesce(to_json(pl.version)::text, 'null'),
        ',"prices":[', pr.prices, ']}')
    END,
    n.event_time, %(ts)s
FROM new_outbox AS n
LEFT JOIN store.stations AS s ON n.kind = 'station' AND s.id = n.station_id
LEFT JOIN store.price_lists AS pl ON n.kind = 'prices' AND pl.station_id = n.station_id
LEFT JOIN pr ON n.kind = 'prices' AND n.op = 'upsert' AND pr.station_id = n.station_id
"""

# Documents are JSON text assembled by concatenation: compact, keys in the seed's order, prices
# and coordinates rendered from NUMERIC (trim_scale: 54.9, never 54.9000 or 54.900000000001),
# icons as root-relative paths the API prefixes with its public base URL.
#
# A catalog entry's JSON is rendered once per statement (``ft``, ``sj``: a handful of rows) and
# each row is one ``concat()`` call rather than a chain of ``||``. Measured in a whole 100,000-
# station run this saved little (16.4 s → 15.2 s of CPU for all document builds, docs/store.md):
# most of a document's cost is writing the row and its seven index entries, not building it.
_ICON = "coalesce(to_json({t}.icon_path)::text, 'null')"
_NAME = "to_json(coalesce({t}.display_name, {t}.name))::text"
_CATALOG = (
    """concat('{{"id":', {t}.id, ',"name":', """
    + _NAME
    + """, ',"icon":', """
    + _ICON
    + """, '}}')"""
)
_FUEL_HEAD = (
    """'{"price":', trim_scale(cp.price), ',"currency":', to_json(cp.currency::text), """
    """',"fuel_type":', ft.json"""
)
_FUEL = f"concat({_FUEL_HEAD}, '}}')"
_FUEL_V2 = f"""concat({_FUEL_HEAD}, ',"updated_at":', to_json(cp.updated_at), '}}')"""
_HEAD = (
    """'{"id":', s.id, ',"coordinate_x":', trim_scale(s.latitude), ',"coordinate_y":', """
    """trim_scale(s.longitude), ',"number":', s.number, ',"address":', """
    """coalesce(to_json(s.address)::text, 'null'), ',"image_urls":', array_to_json(s.image_urls)"""
)

# The read model is two tables (store migration 0007, docs/read-model.md): a station's catalog
# part (``station_doc_heads``: rewritten only by a catalog change) and its fuels with its feed
# position (``station_doc_fuels``: ≈ 1 KB, four index entries, rewritten by every change). A
# price change no longer rewrites the 1.75 KB document and its seven index entries: that was half
# of a 100,000-station price set's apply.
#
# Built from module constants only (no input). Services and fuels are aggregated once for the
# whole set (grouped joins), not per station: see INSERT_OUTBOX.
WRITE_HEADS = f"""
WITH n AS (
    SELECT DISTINCT station_id FROM new_outbox WHERE kind = 'station'
), sj AS (
    SELECT sv.id, {_CATALOG.format(t="sv")} AS json FROM store.services AS sv
), se AS (
    SELECT ss.station_id, array_agg(ss.service_id ORDER BY ss.position) AS ids,
        string_agg(sj.json, ',' ORDER BY ss.position) AS json
    FROM n
    JOIN store.station_services AS ss ON ss.station_id = n.station_id
    JOIN sj ON sj.id = ss.service_id
    GROUP BY ss.station_id
)
INSERT INTO store.station_doc_heads AS d (
    station_id, deleted, latitude, longitude, number, service_ids, head, services)
SELECT s.id, s.deleted,
    CASE WHEN s.deleted THEN NULL ELSE s.latitude::float8 END,
    CASE WHEN s.deleted THEN NULL ELSE s.longitude::float8 END,
    CASE WHEN s.deleted THEN NULL ELSE s.number END,
    CASE WHEN s.deleted THEN '{{}}' ELSE coalesce(se.ids, '{{}}') END,
    CASE WHEN s.deleted THEN NULL ELSE concat({_HEAD}) END,
    CASE WHEN s.deleted THEN NULL ELSE se.json END
FROM n
JOIN store.stations AS s ON s.id = n.station_id
LEFT JOIN se ON se.station_id = s.id
ORDER BY s.id
ON CONFLICT (station_id) DO UPDATE SET
    deleted = excluded.deleted, latitude = excluded.latitude, longitude = excluded.longitude,
    number = excluded.number, service_ids = excluded.service_ids, head = excluded.head,
    services = excluded.services
"""  # noqa: S608

# Every touched station's fuels are rebuilt, a catalog change included: a station entering the
# catalog may already have prices (kept while it was unknown), a removed one loses its fuels, and
# an admin's fuel name or icon change reaches its stations as a catalog change.
WRITE_FUELS = f"""
WITH n AS (
    SELECT station_id, max(seq) AS seq, bool_or(kind = 'station') AS catalog
    FROM new_outbox GROUP BY station_id
), ft AS (
    SELECT f.id, {_CATALOG.format(t="f")} AS json FROM store.fuel_types AS f
), fu AS (
    SELECT cp.station_id, array_agg(cp.fuel_type_id ORDER BY cp.fuel_type_id) AS ids,
        string_agg({_FUEL}, ',' ORDER BY cp.fuel_type_id)
            FILTER (WHERE cp.currency IN {V1_CURRENCIES!r}) AS v1,
        string_agg({_FUEL_V2}, ',' ORDER BY cp.fuel_type_id) AS v2
    FROM n
    JOIN store.current_prices AS cp ON cp.station_id = n.station_id
    JOIN ft ON ft.id = cp.fuel_type_id
    GROUP BY cp.station_id
)
INSERT INTO store.station_doc_fuels AS d (
    station_id, seq, updated_at, fuel_type_ids, fuels_v1, fuels_v2)
SELECT s.id, n.seq, %(ts)s,
    CASE WHEN s.deleted THEN '{{}}' ELSE coalesce(fu.ids, '{{}}') END,
    CASE WHEN s.deleted THEN NULL ELSE fu.v1 END,
    CASE WHEN s.deleted THEN NULL ELSE fu.v2 END
FROM n
JOIN store.stations AS s ON s.id = n.station_id AND (n.catalog OR NOT s.deleted)
LEFT JOIN fu ON fu.station_id = s.id
ORDER BY s.id
ON CONFLICT (station_id) DO UPDATE SET
    seq = excluded.seq, updated_at = excluded.updated_at,
    fuel_type_ids = excluded.fuel_type_ids, fuels_v1 = excluded.fuels_v1,
    fuels_v2 = excluded.fuels_v2
"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class Published:
    outbox_rows: int
    max_seq: int | None
    docs_written: int


async def create_touched(conn: AsyncConnection) -> None:
    await conn.execute(CREATE_TOUCHED)


async def publish_touched(conn: AsyncConnection) -> Published:
    """Write outbox rows and documents for ``touched``; notify listeners. In the caller's tx."""
    cur = await conn.execute("SELECT count(*) FROM touched")
    row = await cur.fetchone()
    if row is None or row[0] == 0:
        await conn.execute("DROP TABLE touched")
        return Published(0, None, 0)
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK_KEY,))
    cur = await conn.execute("SELECT clock_timestamp()")
    ts_row = await cur.fetchone()
    assert ts_row is not None
    params = {"ts": ts_row[0]}
    await conn.execute(ALLOCATE)
    cur = await conn.execute(INSERT_OUTBOX, params)
    rows = cur.rowcount
    await conn.execute(WRITE_HEADS)
    cur = await conn.execute(WRITE_FUELS, params)
    docs = cur.rowcount
    cur = await conn.execute("SELECT max(seq) FROM new_outbox")
    max_row = await cur.fetchone()
    max_seq = int(max_row[0]) if max_row and max_row[0] is not None else None
    await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, str(max_seq)))
    await conn.execute("DROP TABLE new_outbox, touched")
    return Published(rows, max_seq, docs)

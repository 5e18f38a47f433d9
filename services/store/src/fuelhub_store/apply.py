"""Applying one merged change set to Postgres with set-based SQL (inside the caller's tx).

Rules (docs/store.md has the reasoning):

* Staging: the set is copied (COPY, binary) into temporary tables, then planned and applied with
  a handful of statements, whatever its size.
* Version-newer-wins per entity. An entity's *effective* version is its stored version, raised to
  the newest applied snapshot's ``observed_at`` unless that snapshot held it back or kept it
  without a state: a snapshot confirms every entity it lists (or lacks) as of its time, without
  writing a row for the unchanged ones.
* A snapshot writes only entities whose content differs; a delta bumps the version of every entity
  it carries (so a later-delivered, older delta cannot undo it).
* Snapshot reconciliation goes through the mass-deletion guard with counters in Postgres.
* Appliers of one kind serialise on an advisory lock (planning reads what it will write); the
  two kinds run concurrently and meet only in the read model, built under the feed lock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from fuelhub_common.guard import GuardPolicy, decide_deletions
from psycopg import AsyncConnection, sql

from fuelhub_store.changeset import ChangeSet, Kind
from fuelhub_store.readmodel import Published, create_touched, publish_touched

log = logging.getLogger(__name__)

KIND_LOCK_KEYS: Final[dict[Kind, int]] = {"stations": 73111, "prices": 73112}
# Below this many entities the planner's guesses for unanalysed temp tables are harmless, and
# ANALYZE + keys would cost more than they save (they matter for large sets: see _stage).
ANALYZE_FROM: Final = 500

Checkpoint = Callable[[str], Awaitable[None]]
"""Called between steps with the step's name; tests use it to inject failures."""


async def no_checkpoint(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    kind: Kind
    changed: dict[str, int] = field(default_factory=dict)
    """Effective changes by ``<kind>.<op>`` (e.g. ``station.upsert``)."""
    guard_deleted: int = 0
    guard_held: int = 0
    guard_mass: bool = False
    stale_snapshot: bool = False
    published: Published = field(default_factory=lambda: Published(0, None, 0))

    @property
    def entities_changed(self) -> int:
        return sum(self.changed.values())


# --- SQL ----------------------------------------------------------------------------------------

_EXEMPT = """(
    EXISTS (SELECT 1 FROM store.absences a WHERE a.kind = %(kind)s AND a.entity_id = {id})
    OR EXISTS (SELECT 1 FROM store.snapshot_kept k WHERE k.kind = %(kind)s AND k.entity_id = {id})
)"""

STAGE_STATIONS = """
CREATE TEMP TABLE stg_stations (
    id bigint, op text, version timestamptz, latitude text, longitude text,
    number integer, address text, image_urls text[], services text[]
) ON COMMIT DROP
"""
# Decimals are staged as text and cast once in the plan (see changeset.StationRow).
STATION_TYPES = ["int8", "text", "timestamptz", "text", "text", "int4", "text"]

# Built from module constants only (no input): S608 does not apply.
PLAN_STATIONS = f"""
CREATE TEMP TABLE plan_stations ON COMMIT DROP AS
WITH s AS (
    SELECT DISTINCT ON (id) id, op, version, latitude::numeric(12, 9) AS latitude,
        longitude::numeric(13, 9) AS longitude, number, address, image_urls, services
    FROM stg_stations ORDER BY id, version DESC, (op = 'delete') DESC
)
SELECT s.*, st.id IS NULL AS is_new,
    CASE WHEN s.op = 'delete' THEN coalesce(NOT st.deleted, false)
    ELSE st.id IS NULL OR st.deleted
        OR (st.latitude, st.longitude, st.number, st.address, st.image_urls, st.services)
           IS DISTINCT FROM
           (s.latitude, s.longitude, s.number, s.address, s.image_urls, s.services)
    END AS changed
FROM s LEFT JOIN store.stations AS st ON st.id = s.id
WHERE s.version > coalesce(
    CASE WHEN {_EXEMPT.format(id="s.id")} THEN st.version
    ELSE greatest(st.version, %(watermark)s::timestamptz) END,
    '-infinity')
"""  # noqa: S608

UPSERT_STATIONS = """
INSERT INTO store.stations AS st (
    id, latitude, longitude, number, address, image_urls, services, deleted, version, updated_at)
SELECT id, latitude, longitude, number, address, image_urls, services, op = 'delete', version,
    now()
FROM plan_stations ORDER BY id
ON CONFLICT (id) DO UPDATE SET
    latitude = CASE WHEN excluded.deleted THEN st.latitude ELSE excluded.latitude END,
    longitude = CASE WHEN excluded.deleted THEN st.longitude ELSE excluded.longitude END,
    number = CASE WHEN excluded.deleted THEN st.number ELSE excluded.number END,
    address = CASE WHEN excluded.deleted THEN st.address ELSE excluded.address END,
    image_urls = CASE WHEN excluded.deleted THEN st.image_urls ELSE excluded.image_urls END,
    services = CASE WHEN excluded.deleted THEN st.services ELSE excluded.services END,
    deleted = excluded.deleted, version = excluded.version, updated_at = excluded.updated_at
WHERE st.version < excluded.version
"""

ENSURE_SERVICES = """
INSERT INTO store.services (name)
SELECT DISTINCT n.name
FROM plan_stations AS p CROSS JOIN LATERAL unnest(p.services) AS n(name)
WHERE p.op = 'upsert' AND p.changed
  AND NOT EXISTS (SELECT 1 FROM store.services AS sv WHERE sv.name = n.name)
ON CONFLICT (name) DO NOTHING
"""

# A changed station's links are replaced: deleted, then inserted without ON CONFLICT (its
# speculative insertion cost ≈ 40% of the insert); a name listed twice keeps its first position.
RELINK_SERVICES = """
DELETE FROM store.station_services AS ss USING plan_stations AS p
WHERE ss.station_id = p.id AND p.changed;
INSERT INTO store.station_services (station_id, service_id, position)
SELECT DISTINCT ON (p.id, sv.id) p.id, sv.id, n.ord::smallint
FROM plan_stations AS p
CROSS JOIN LATERAL unnest(p.services) WITH ORDINALITY AS n(name, ord)
JOIN store.services AS sv ON sv.name = n.name
WHERE p.op = 'upsert' AND p.changed
ORDER BY p.id, sv.id, n.ord
"""

TOUCH_STATIONS = """
INSERT INTO touched (station_id, kind, op, event_time)
SELECT id, 'station', op, version FROM plan_stations WHERE changed
"""

STAGE_PRICES = """
CREATE TEMP TABLE stg_price_lists (station_id bigint, op text, version timestamptz)
    ON COMMIT DROP;
CREATE TEMP TABLE stg_prices (
    station_id bigint, version timestamptz, fuel text, price text, currency text
) ON COMMIT DROP
"""

PLAN_LISTS = f"""
CREATE TEMP TABLE plan_lists ON COMMIT DROP AS
WITH l AS (
    SELECT DISTINCT ON (station_id) * FROM stg_price_lists
    ORDER BY station_id, version DESC, (op = 'delete') DESC
)
SELECT l.*, pl.station_id IS NULL AS is_new, pl.deleted AS was_deleted
FROM l LEFT JOIN store.price_lists AS pl ON pl.station_id = l.station_id
WHERE l.version > coalesce(
    CASE WHEN {_EXEMPT.format(id="l.station_id")} THEN pl.version
    ELSE greatest(pl.version, %(watermark)s::timestamptz) END,
    '-infinity')
"""  # noqa: S608

# Names are de-duplicated first (a hash over the staged rows); only the rare new name is checked
# against the plan, so an unchanged catalog costs one pass, not a join of every staged price.
ENSURE_FUEL_TYPES = """
WITH names AS (SELECT DISTINCT fuel FROM stg_prices)
INSERT INTO store.fuel_types (name)
SELECT n.fuel FROM names AS n
WHERE NOT EXISTS (SELECT 1 FROM store.fuel_types AS f WHERE f.name = n.fuel)
  AND EXISTS (
      SELECT 1 FROM stg_prices AS p JOIN plan_lists AS l
          ON l.station_id = p.station_id AND l.version = p.version AND l.op = 'upsert'
      WHERE p.fuel = n.fuel)
ORDER BY n.fuel
ON CONFLICT (name) DO NOTHING
"""

WANT_PRICES = """
CREATE TEMP TABLE want_prices ON COMMIT DROP AS
SELECT DISTINCT ON (p.station_id, f.id)
    p.station_id, f.id AS fuel_type_id, p.price::numeric(12, 4) AS price,
    p.currency::char(3) AS currency, l.version
FROM plan_lists AS l
JOIN stg_prices AS p ON p.station_id = l.station_id AND p.version = l.version
JOIN store.fuel_types AS f ON f.name = p.fuel
WHERE l.op = 'upsert'
ORDER BY p.station_id, f.id
"""

CREATE_CHANGED_LISTS = """
CREATE TEMP TABLE changed_lists (station_id bigint PRIMARY KEY) ON COMMIT DROP
"""

# New prices are inserted, differing ones updated; an unchanged price is neither written nor
# locked. No ON CONFLICT: its speculative insertion cost ≈ 6 µs per row (2.6 s of a 100,000-station
# first sync), and appliers of prices are serialised on their kind's advisory lock, so nothing
# else inserts these keys meanwhile. Both see the statement's snapshot, so the sets are disjoint.
UPSERT_PRICES = """
WITH ins AS (
    INSERT INTO store.current_prices (
        station_id, fuel_type_id, price, currency, updated_at, version)
    SELECT w.station_id, w.fuel_type_id, w.price, w.currency, now(), w.version
    FROM want_prices AS w
    WHERE NOT EXISTS (
        SELECT 1 FROM store.current_prices AS c
        WHERE c.station_id = w.station_id AND c.fuel_type_id = w.fuel_type_id)
    ORDER BY w.station_id, w.fuel_type_id
    RETURNING station_id, fuel_type_id, price, currency, version
), upd AS (
    UPDATE store.current_prices AS cp SET
        price = w.price, currency = w.currency, updated_at = now(), version = w.version
    FROM want_prices AS w
    WHERE cp.station_id = w.station_id AND cp.fuel_type_id = w.fuel_type_id
      AND (cp.price, cp.currency) IS DISTINCT FROM (w.price, w.currency)
    RETURNING cp.station_id, cp.fuel_type_id, cp.price, cp.currency, cp.version
), up AS (
    SELECT * FROM ins UNION ALL SELECT * FROM upd
), history AS (
    INSERT INTO store.price_history (station_id, fuel_type_id, price, currency, observed_at)
    SELECT station_id, fuel_type_id, price, currency, version FROM up
)
INSERT INTO changed_lists SELECT DISTINCT station_id FROM up ON CONFLICT DO NOTHING
"""

REMOVE_PRICES = """
WITH gone AS (
    DELETE FROM store.current_prices AS cp USING plan_lists AS l
    WHERE cp.station_id = l.station_id
      AND NOT EXISTS (
          SELECT 1 FROM want_prices AS w
          WHERE w.station_id = cp.station_id AND w.fuel_type_id = cp.fuel_type_id)
    RETURNING cp.station_id, cp.fuel_type_id, l.version
), history AS (
    INSERT INTO store.price_history (station_id, fuel_type_id, price, currency, observed_at)
    SELECT station_id, fuel_type_id, NULL, NULL, version FROM gone
)
INSERT INTO changed_lists SELECT DISTINCT station_id FROM gone ON CONFLICT DO NOTHING
"""

UPSERT_LISTS = """
INSERT INTO store.price_lists AS pl (station_id, deleted, version, updated_at)
SELECT l.station_id, l.op = 'delete', l.version, now()
FROM plan_lists AS l
WHERE %(bump_all)s OR l.is_new OR l.was_deleted IS DISTINCT FROM (l.op = 'delete')
   OR EXISTS (SELECT 1 FROM changed_lists AS c WHERE c.station_id = l.station_id)
ORDER BY l.station_id
ON CONFLICT (station_id) DO UPDATE SET
    deleted = excluded.deleted, version = excluded.version, updated_at = excluded.updated_at
WHERE pl.version < excluded.version
"""

TOUCH_LISTS = """
INSERT INTO touched (station_id, kind, op, event_time)
SELECT l.station_id, 'prices', l.op, l.version
FROM plan_lists AS l JOIN changed_lists AS c ON c.station_id = l.station_id
"""

# Reconciliation: per kind, the entity table and how a guard-approved absence is deleted.
_ENTITY = {
    "stations": ("store.stations", "id", "stg_stations", "id"),
    "prices": ("store.price_lists", "station_id", "stg_price_lists", "station_id"),
}

DELETE_ABSENT_STATIONS = (
    """
    UPDATE store.stations SET deleted = true, version = %(at)s, updated_at = now()
    WHERE id = ANY(%(ids)s) AND NOT deleted
    """,
    "DELETE FROM store.station_services WHERE station_id = ANY(%(ids)s)",
    """
    INSERT INTO touched (station_id, kind, op, event_time)
    SELECT unnest(%(ids)s::bigint[]), 'station', 'delete', %(at)s
    ON CONFLICT (station_id, kind) DO UPDATE SET op = excluded.op, event_time = excluded.event_time
    """,
)

DELETE_ABSENT_LISTS = (
    """
    WITH gone AS (
        DELETE FROM store.current_prices WHERE station_id = ANY(%(ids)s)
        RETURNING station_id, fuel_type_id
    )
    INSERT INTO store.price_history (station_id, fuel_type_id, price, currency, observed_at)
    SELECT station_id, fuel_type_id, NULL, NULL, %(at)s FROM gone
    """,
    """
    UPDATE store.price_lists SET deleted = true, version = %(at)s, updated_at = now()
    WHERE station_id = ANY(%(ids)s) AND NOT deleted
    """,
    """
    INSERT INTO touched (station_id, kind, op, event_time)
    SELECT unnest(%(ids)s::bigint[]), 'prices', 'delete', %(at)s
    ON CONFLICT (station_id, kind) DO UPDATE SET op = excluded.op, event_time = excluded.event_time
    """,
)


async def delete_entities(conn: AsyncConnection, kind: Kind, ids: list[int], at: datetime) -> None:
    """Tombstone ``ids`` as of ``at`` and mark them touched (the caller created ``touched``)."""
    for statement in DELETE_ABSENT_STATIONS if kind == "stations" else DELETE_ABSENT_LISTS:
        await conn.execute(statement, {"ids": ids, "at": at})


# --- steps --------------------------------------------------------------------------------------


async def _copy(conn: AsyncConnection, table: str, types: list[str], rows: Iterable[Any]) -> None:
    query = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table))
    async with conn.cursor().copy(query) as copy:
        copy.set_types(types)
        for row in rows:
            await copy.write_row(row)


async def _scalar(conn: AsyncConnection, query: str | sql.Composed, params: Any = None) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return None if row is None else row[0]


async def _prepare(
    conn: AsyncConnection, cs: ChangeSet, table: str, columns: str, *, key: bool = False
) -> None:
    """Give a temp table statistics (and ``columns`` as its key) when the set is large.

    Only the columns the plans join, group or filter on are analysed: statistics of the
    addresses and arrays would cost as much as the rest of the staging.
    """
    if cs.size < ANALYZE_FROM:
        return
    if key:
        await conn.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                sql.Identifier(table), sql.SQL(columns)
            )
        )
    await conn.execute(sql.SQL("ANALYZE {} ({})").format(sql.Identifier(table), sql.SQL(columns)))


async def _stage(conn: AsyncConnection, cs: ChangeSet) -> None:
    """Copy the set into its temp tables one part at a time (never all its rows in memory)."""
    if cs.kind == "stations":
        await conn.execute(STAGE_STATIONS)
        types = [*STATION_TYPES, "text[]", "text[]"]
        async for part in cs.each_part():
            await _copy(conn, "stg_stations", types, part.station_rows)
        await _prepare(conn, cs, "stg_stations", "id, op")
    else:
        await conn.execute(STAGE_PRICES)
        list_types = ["int8", "text", "timestamptz"]
        price_types = ["int8", "timestamptz", "text", "text", "text"]
        async for part in cs.each_part():
            await _copy(conn, "stg_price_lists", list_types, part.price_list_rows)
            await _copy(conn, "stg_prices", price_types, part.price_rows)
        await _prepare(conn, cs, "stg_price_lists", "station_id, op, version")
        await _prepare(conn, cs, "stg_prices", "station_id, version, fuel")


async def _apply_stations(conn: AsyncConnection, cs: ChangeSet, params: dict[str, Any]) -> None:
    await conn.execute(PLAN_STATIONS, params)
    if cs.snapshot:
        # A snapshot re-lists everything: only what differs is written.
        await conn.execute("DELETE FROM plan_stations WHERE NOT changed")
    # Temporary tables get no statistics on their own: without them the planner picks nested
    # loops that turn a 100k-row apply into minutes.
    await _prepare(conn, cs, "plan_stations", "id", key=True)
    await conn.execute(ENSURE_SERVICES)
    await conn.execute(UPSERT_STATIONS)
    await conn.execute(RELINK_SERVICES)
    await conn.execute(TOUCH_STATIONS)


async def _apply_prices(conn: AsyncConnection, cs: ChangeSet, params: dict[str, Any]) -> None:
    await conn.execute(PLAN_LISTS, params)
    await _prepare(conn, cs, "plan_lists", "station_id", key=True)
    await conn.execute(ENSURE_FUEL_TYPES)
    await conn.execute(WANT_PRICES)
    await _prepare(conn, cs, "want_prices", "station_id, fuel_type_id", key=True)
    await conn.execute(CREATE_CHANGED_LISTS)
    await conn.execute(UPSERT_PRICES)
    await conn.execute(REMOVE_PRICES)
    await conn.execute(UPSERT_LISTS, {"bump_all": not cs.snapshot})
    await conn.execute(TOUCH_LISTS)


@dataclass(frozen=True, slots=True)
class _Reconciled:
    deleted: int = 0
    held: int = 0
    mass: bool = False


async def _reconcile(
    conn: AsyncConnection, cs: ChangeSet, policy: GuardPolicy, known: int
) -> _Reconciled:
    """Delete what a newer snapshot lacks, through the guard; keep its counters and watermark."""
    table, id_col, stg, stg_id = _ENTITY[cs.kind]
    kept = list(cs.kept_ids)
    present_query = sql.SQL(
        "SELECT count(DISTINCT {stg_id}) FROM {stg} WHERE op = 'upsert' AND {stg_id} <> ALL(%s)"
    ).format(stg_id=sql.Identifier(stg_id), stg=sql.Identifier(stg))
    present = int(await _scalar(conn, present_query, (kept,))) + len(set(kept))
    absent_query = sql.SQL(
        "SELECT e.{id} FROM {table} AS e WHERE NOT e.deleted AND e.version < %(at)s"
        " AND e.{id} <> ALL(%(kept)s)"
        " AND NOT EXISTS (SELECT 1 FROM {stg} AS s WHERE s.{stg_id} = e.{id})"
    ).format(
        id=sql.Identifier(id_col),
        table=sql.SQL(table),
        stg=sql.Identifier(stg),
        stg_id=sql.Identifier(stg_id),
    )
    cur = await conn.execute(absent_query, {"at": cs.observed_at, "kept": kept})
    absent = [int(r[0]) for r in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT entity_id, count FROM store.absences WHERE kind = %s", (cs.kind,)
    )
    previous = {int(r[0]): int(r[1]) for r in await cur.fetchall()}
    decision = decide_deletions(
        known=known,
        absent=absent,
        previous_counters=previous,
        present=present,
        policy=policy,
        incomplete=cs.unidentified_records > 0,  # a lacking entity may be an unnamed record
    )
    delete = sorted(decision.delete)
    if delete:
        await delete_entities(conn, cs.kind, delete, cs.observed_at)
    held = sorted(decision.counters)
    counts = [decision.counters[k] for k in held]
    await conn.execute(
        "DELETE FROM store.absences WHERE kind = %s AND entity_id <> ALL(%s)", (cs.kind, held)
    )
    if held:
        await conn.execute(
            """
            INSERT INTO store.absences AS a (kind, entity_id, count, first_absent_at,
                last_absent_at)
            SELECT %(kind)s, e, c, %(at)s, %(at)s FROM unnest(%(ids)s::bigint[], %(counts)s::int[])
                AS t(e, c)
            ON CONFLICT (kind, entity_id) DO UPDATE SET
                count = excluded.count, last_absent_at = excluded.last_absent_at
            WHERE a.count IS DISTINCT FROM excluded.count
            """,
            {"kind": cs.kind, "at": cs.observed_at, "ids": held, "counts": counts},
        )
    await conn.execute(
        "DELETE FROM store.snapshot_kept WHERE kind = %s AND entity_id <> ALL(%s)", (cs.kind, kept)
    )
    if kept:
        await conn.execute(
            "INSERT INTO store.snapshot_kept (kind, entity_id)"
            " SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
            (cs.kind, kept),
        )
    await conn.execute(
        """
        INSERT INTO store.snapshot_watermarks AS w (kind, snapshot_at, change_set_id)
        VALUES (%s, %s, %s)
        ON CONFLICT (kind) DO UPDATE SET
            snapshot_at = excluded.snapshot_at, change_set_id = excluded.change_set_id
        WHERE w.snapshot_at < excluded.snapshot_at
        """,
        (cs.kind, cs.observed_at, cs.change_set_id),
    )
    if decision.mass and held:
        log.warning(
            "guard held back deletions",
            extra={"kind": cs.kind, "held": len(held), "absent": len(absent), "known": known},
        )
    return _Reconciled(deleted=len(delete), held=len(held), mass=decision.mass)


async def apply_change_set(
    conn: AsyncConnection,
    cs: ChangeSet,
    policy: GuardPolicy,
    *,
    checkpoint: Checkpoint = no_checkpoint,
) -> ApplyResult:
    """Apply ``cs`` inside the caller's open transaction; the caller commits or rolls back."""
    # Short set-based statements: JIT compilation would cost more than it saves.
    await conn.execute("SET LOCAL jit = off")
    await _stage(conn, cs)
    await checkpoint("staged")
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (KIND_LOCK_KEYS[cs.kind],))
    watermark: datetime | None = await _scalar(
        conn, "SELECT snapshot_at FROM store.snapshot_watermarks WHERE kind = %s", (cs.kind,)
    )
    newer_snapshot = cs.snapshot and (watermark is None or cs.observed_at > watermark)
    known = 0
    if newer_snapshot:
        table = "store.stations" if cs.kind == "stations" else "store.price_lists"
        known = int(await _scalar(conn, f"SELECT count(*) FROM {table} WHERE NOT deleted"))  # noqa: S608
    await create_touched(conn)
    params = {"kind": cs.kind, "watermark": watermark}
    if cs.kind == "stations":
        await _apply_stations(conn, cs, params)
    else:
        await _apply_prices(conn, cs, params)
    await checkpoint("entities")
    reconciled = _Reconciled()
    if newer_snapshot:
        reconciled = await _reconcile(conn, cs, policy, known)
    await checkpoint("reconciled")
    cur = await conn.execute("SELECT kind || '.' || op, count(*) FROM touched GROUP BY 1")
    changed = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
    published = await publish_touched(conn)
    await checkpoint("published")
    for table in ("stg_stations", "plan_stations", "stg_price_lists", "stg_prices", "plan_lists",
                  "want_prices", "changed_lists"):  # fmt: skip
        await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    return ApplyResult(
        kind=cs.kind,
        changed=changed,
        guard_deleted=reconciled.deleted,
        guard_held=reconciled.held,
        guard_mass=reconciled.mass,
        stale_snapshot=cs.snapshot and not newer_snapshot,
        published=published,
    )

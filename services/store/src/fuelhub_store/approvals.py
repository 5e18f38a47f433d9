"""What the admin calls on the store's data: held deletions and catalog presentation.

Each function runs its own transaction on the given connection and publishes its effective
changes like an applier does (outbox, read-model documents, NOTIFY), so the API sees them at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from psycopg import AsyncConnection, sql

from fuelhub_store.apply import KIND_LOCK_KEYS, delete_entities
from fuelhub_store.changeset import Kind
from fuelhub_store.readmodel import Published, create_touched, publish_touched

Catalog = Literal["fuel_types", "services"]


@dataclass(frozen=True, slots=True)
class HeldDeletion:
    kind: Kind
    entity_id: int
    count: int
    first_absent_at: datetime
    last_absent_at: datetime


async def list_held_deletions(conn: AsyncConnection) -> list[HeldDeletion]:
    """Absences the guard holds back, oldest first."""
    cur = await conn.execute(
        "SELECT kind, entity_id, count, first_absent_at, last_absent_at FROM store.absences"
        " ORDER BY first_absent_at, kind, entity_id"
    )
    return [HeldDeletion(*row) for row in await cur.fetchall()]


async def approve_held_deletions(
    conn: AsyncConnection, *, kind: Kind, entity_ids: Sequence[int], approved_by: str
) -> int:
    """Apply held deletions now (as of the snapshot that last saw them absent); returns count.

    Ids that are no longer held (present again, or already deleted) are ignored.
    """
    entity_table = "store.stations" if kind == "stations" else "store.price_lists"
    entity_id = "id" if kind == "stations" else "station_id"
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (KIND_LOCK_KEYS[kind],))
        query = sql.SQL(
            "SELECT e.{id}, a.last_absent_at FROM store.absences AS a"
            " JOIN {table} AS e ON e.{id} = a.entity_id"
            " WHERE a.kind = %s AND a.entity_id = ANY(%s) AND NOT e.deleted"
            " AND e.version < a.last_absent_at ORDER BY 1"
        ).format(id=sql.Identifier(entity_id), table=sql.SQL(entity_table))
        cur = await conn.execute(query, (kind, list(entity_ids)))
        rows = await cur.fetchall()
        await create_touched(conn)
        for at in sorted({r[1] for r in rows}):
            await delete_entities(conn, kind, [int(r[0]) for r in rows if r[1] == at], at)
        approved = [int(r[0]) for r in rows]
        await conn.execute(
            "DELETE FROM store.absences WHERE kind = %s AND entity_id = ANY(%s)",
            (kind, list(entity_ids)),
        )
        await conn.execute(
            "INSERT INTO store.deletion_approvals (kind, entity_id, approved_by, applied)"
            " SELECT %s, e, %s, e = ANY(%s) FROM unnest(%s::bigint[]) AS e",
            (kind, approved_by, approved, list(entity_ids)),
        )
        await publish_touched(conn)
    return len(approved)


async def reject_held_deletions(
    conn: AsyncConnection, *, kind: Kind, entity_ids: Sequence[int]
) -> int:
    """Keep held entities: forget the absences counted so far; returns how many were held.

    A rejection says "this is not a closure". The entity stays as it is, and the guard starts
    counting again: only ``GUARD_CONFIRMATIONS`` further snapshots that still lack it (or an
    approval) delete it.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (KIND_LOCK_KEYS[kind],))
        cur = await conn.execute(
            "DELETE FROM store.absences WHERE kind = %s AND entity_id = ANY(%s) RETURNING 1",
            (kind, list(entity_ids)),
        )
        return len(await cur.fetchall())


async def update_catalog_entry(
    conn: AsyncConnection,
    *,
    catalog: Catalog,
    entry_id: int,
    display_name: str | None,
    icon_path: str | None,
) -> Published:
    """Set a fuel type's or service's display name and icon path (root-relative, e.g.
    ``/media/icons/<sha256>-128.png``) and rewrite the documents of the stations using it."""
    table = sql.Identifier("store", catalog)
    async with conn.transaction():
        cur = await conn.execute(
            sql.SQL(
                "UPDATE {t} SET display_name = %s, icon_path = %s, updated_at = now()"
                " WHERE id = %s AND (display_name, icon_path) IS DISTINCT FROM (%s, %s)"
            ).format(t=table),
            (display_name, icon_path, entry_id, display_name, icon_path),
        )
        if cur.rowcount == 0:
            return Published(0, None, 0)
        await create_touched(conn)
        users = (
            "SELECT cp.station_id FROM store.current_prices AS cp WHERE cp.fuel_type_id = %s"
            if catalog == "fuel_types"
            else "SELECT ss.station_id FROM store.station_services AS ss WHERE ss.service_id = %s"
        )
        await conn.execute(
            "INSERT INTO touched (station_id, kind, op, event_time)"  # noqa: S608
            f" SELECT s.id, 'station', 'upsert', now() FROM store.stations AS s"
            f" WHERE NOT s.deleted AND s.id IN ({users})",
            (entry_id,),
        )
        return await publish_touched(conn)

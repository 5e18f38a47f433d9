"""What the admin changes, each with its audit row in the same transaction (no web here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import AsyncConnection, sql

from fuelhub_store.admin import audit
from fuelhub_store.approvals import (
    Catalog,
    approve_held_deletions,
    reject_held_deletions,
    update_catalog_entry,
)
from fuelhub_store.changeset import Kind

CATALOG_TARGET = {"fuel_types": "fuel_type", "services": "service"}


class NotFoundError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: int
    name: str
    display_name: str | None
    icon_path: str | None


async def get_catalog_entry(conn: AsyncConnection, catalog: Catalog, entry_id: int) -> CatalogEntry:
    cur = await conn.execute(
        sql.SQL("SELECT id, name, display_name, icon_path FROM {t} WHERE id = %s").format(
            t=sql.Identifier("store", catalog)
        ),
        (entry_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"{catalog} {entry_id}")
    return CatalogEntry(*row)


async def set_presentation(
    conn: AsyncConnection,
    *,
    catalog: Catalog,
    entry_id: int,
    display_name: str | None,
    icon_path: str | None,
    actor: str,
) -> int:
    """Set a catalog entry's display name and icon, rewrite the read-model documents of the
    stations using it and audit the change, in one transaction. Returns documents rewritten."""
    async with conn.transaction():
        await conn.execute(
            sql.SQL("SELECT 1 FROM {t} WHERE id = %s FOR UPDATE").format(
                t=sql.Identifier("store", catalog)
            ),
            (entry_id,),
        )
        before = await get_catalog_entry(conn, catalog, entry_id)
        published = await update_catalog_entry(
            conn,
            catalog=catalog,
            entry_id=entry_id,
            display_name=display_name,
            icon_path=icon_path,
        )
        changed = (before.display_name, before.icon_path) != (display_name, icon_path)
        if changed:
            await audit.record(
                conn,
                actor=actor,
                action="icon.set" if before.icon_path != icon_path else "display_name.set",
                target_type=CATALOG_TARGET[catalog],
                target_id=f"{entry_id} {before.name}",
                before={"display_name": before.display_name, "icon_path": before.icon_path},
                after={"display_name": display_name, "icon_path": icon_path},
            )
    return published.docs_written


async def fuel_aliases(conn: AsyncConnection) -> dict[str, str]:
    """The admin's alias map, as the ingestors' ``FUEL_ALIASES_URL`` serves it."""
    cur = await conn.execute("SELECT alias, canonical FROM store.fuel_aliases ORDER BY alias")
    return {str(a): str(c) for a, c in await cur.fetchall()}


async def approve_deletions(
    conn: AsyncConnection, *, kind: Kind, entity_ids: Sequence[int], actor: str
) -> int:
    """Apply held deletions now (see :func:`fuelhub_store.approvals.approve_held_deletions`)."""
    async with conn.transaction():
        applied = await approve_held_deletions(
            conn, kind=kind, entity_ids=entity_ids, approved_by=actor
        )
        await audit.record(
            conn,
            actor=actor,
            action="deletion.approve",
            target_type=kind,
            target_id=",".join(str(i) for i in entity_ids),
            before={"held": list(entity_ids)},
            after={"deleted": applied},
        )
    return applied


async def reject_deletions(
    conn: AsyncConnection, *, kind: Kind, entity_ids: Sequence[int], actor: str
) -> int:
    """Keep held entities (see :func:`fuelhub_store.approvals.reject_held_deletions`)."""
    async with conn.transaction():
        kept = await reject_held_deletions(conn, kind=kind, entity_ids=entity_ids)
        await audit.record(
            conn,
            actor=actor,
            action="deletion.reject",
            target_type=kind,
            target_id=",".join(str(i) for i in entity_ids),
            before={"held": list(entity_ids)},
            after={"kept": kept},
        )
    return kept

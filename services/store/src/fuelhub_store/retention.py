"""Retention: pruning history, inbox, outbox, read-model tombstones and abandoned parts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from fuelhub_common.events import utcnow
from psycopg import AsyncConnection, sql

log = logging.getLogger(__name__)

RETENTION_LOCK_KEY = 73114

# A read-model tombstone is two rows (store migration 0007): both go, in one statement.
PRUNE_TOMBSTONES = (
    "WITH gone AS ({} RETURNING station_id)"
    " DELETE FROM store.station_doc_fuels AS f USING gone WHERE f.station_id = gone.station_id"
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    history_days: int = 730
    outbox_days: int = 30
    inbox_days: int = 14
    tombstone_days: int = 30
    parts_hours: int = 24


def _rules(policy: RetentionPolicy, now: datetime) -> list[tuple[str, str, dict[str, object]]]:
    """(table, condition, params) per pruned table."""
    return [
        (
            "price_history",
            "observed_at < %(cutoff)s",
            {"cutoff": now - timedelta(days=policy.history_days)},
        ),
        # Never prune what the relay has not published yet.
        (
            "outbox",
            "committed_at < %(cutoff)s"
            " AND seq <= (SELECT published_seq FROM store.outbox_relay WHERE id = 1)",
            {"cutoff": now - timedelta(days=policy.outbox_days)},
        ),
        ("inbox", "received_at < %(cutoff)s", {"cutoff": now - timedelta(days=policy.inbox_days)}),
        # A tombstone is a catalog part marked deleted; its fuels row (which holds the time of
        # the removal) goes in the same statement (PRUNE_TOMBSTONES).
        (
            "station_doc_heads",
            "deleted AND station_id IN (SELECT station_id FROM store.station_doc_fuels"
            " WHERE updated_at < %(cutoff)s)",
            {"cutoff": now - timedelta(days=policy.tombstone_days)},
        ),
        (
            "change_set_parts",
            "received_at < %(cutoff)s",
            {"cutoff": now - timedelta(hours=policy.parts_hours)},
        ),
    ]


async def prune(
    conn: AsyncConnection,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    batch: int = 10_000,
) -> dict[str, int]:
    """Delete expired rows in batches (one short transaction each); returns rows per table.

    Only one process prunes at a time (a session advisory lock); others return at once.
    """
    now = now or utcnow()
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (RETENTION_LOCK_KEY,))
    row = await cur.fetchone()
    await conn.commit()
    if row is None or not row[0]:
        return {}
    removed: dict[str, int] = {}
    try:
        for table, condition, params in _rules(policy, now):
            query = sql.SQL(
                "DELETE FROM store.{t} WHERE ctid = ANY(ARRAY("
                "SELECT ctid FROM store.{t} WHERE {cond} LIMIT {n}))"
            ).format(t=sql.Identifier(table), cond=sql.SQL(condition), n=sql.Literal(batch))  # type: ignore[arg-type]
            if table == "station_doc_heads":
                query = sql.SQL(PRUNE_TOMBSTONES).format(query)
            total = 0
            while True:
                async with conn.transaction():
                    cur = await conn.execute(query, params)
                    total += cur.rowcount
                if cur.rowcount < batch:
                    break
            removed[table] = total
            if table == "change_set_parts" and total:
                log.warning("pruned parts of change sets never completed", extra={"rows": total})
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK_KEY,))
        await conn.commit()
    return removed

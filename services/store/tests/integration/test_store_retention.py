"""Retention prunes what is older than configured, never unpublished outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fuelhub_store.retention import RetentionPolicy, prune
from psycopg_pool import AsyncConnectionPool

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_prune_respects_each_retention(store_pool: AsyncConnectionPool) -> None:
    policy = RetentionPolicy(
        history_days=365, outbox_days=30, inbox_days=7, tombstone_days=30, parts_hours=24
    )
    async with store_pool.connection() as conn:
        await conn.execute("INSERT INTO store.fuel_types (id, name) VALUES (1, 'АИ-95')")
        await conn.execute(
            "INSERT INTO store.price_history (station_id, fuel_type_id, price, currency,"
            " observed_at) SELECT 1, 1, 50, 'RUB', %s - make_interval(days => d)"
            " FROM unnest(ARRAY[1, 364, 366, 800]) AS d",
            (NOW,),
        )
        await conn.execute(
            "INSERT INTO store.inbox (message_id, kind, received_at)"
            " SELECT gen_random_uuid(), 'x', %s - make_interval(days => d)"
            " FROM unnest(ARRAY[1, 6, 8]) AS d",
            (NOW,),
        )
        await conn.execute(
            "INSERT INTO store.outbox (seq, kind, entity_id, op, payload, event_time, committed_at)"
            " SELECT s, 'station', s, 'upsert', '{}', %s, %s - make_interval(days => d)"
            " FROM unnest(ARRAY[1, 2, 3, 4], ARRAY[90, 60, 40, 1]) AS t(s, d)",
            (NOW, NOW),
        )
        # The relay has published up to seq 2: old seq 3 must survive until it is published.
        await conn.execute("UPDATE store.outbox_relay SET published_seq = 2")
        # Read-model tombstones: removed 31 and 29 days ago; a live document untouched for longer.
        await conn.execute(
            "INSERT INTO store.station_doc_heads (station_id, deleted)"
            " VALUES (1, true), (2, true), (3, false)"
        )
        await conn.execute(
            "INSERT INTO store.station_doc_fuels (station_id, seq, updated_at)"
            " VALUES (1, 1, %s), (2, 2, %s), (3, 3, %s)",
            (NOW - timedelta(days=31), NOW - timedelta(days=29), NOW - timedelta(days=400)),
        )
        await conn.execute(
            "INSERT INTO store.change_set_parts (change_set_id, part, parts, kind, message_id,"
            " body, received_at) VALUES (gen_random_uuid(), 1, 2, 'stations',"
            " gen_random_uuid(), '{}', %s)",
            (NOW - timedelta(hours=25),),
        )
        await conn.commit()
        removed = await prune(conn, policy, now=NOW, batch=1)  # batch=1: exercises the loop
        assert removed == {
            "price_history": 2, "outbox": 2, "inbox": 1, "station_doc_heads": 1,
            "change_set_parts": 1,
        }  # fmt: skip
        cur = await conn.execute("SELECT seq FROM store.outbox ORDER BY seq")
        assert [r[0] for r in await cur.fetchall()] == [3, 4]
        cur = await conn.execute("SELECT station_id FROM store.station_docs ORDER BY 1")
        assert [r[0] for r in await cur.fetchall()] == [2, 3]
        # The tombstone's two parts went together.
        cur = await conn.execute("SELECT station_id FROM store.station_doc_fuels ORDER BY 1")
        assert [r[0] for r in await cur.fetchall()] == [2, 3]
        cur = await conn.execute("SELECT count(*) FROM store.price_history")
        assert await cur.fetchone() == (2,)
        # A second pass has nothing left to do.
        assert set((await prune(conn, policy, now=NOW)).values()) == {0}

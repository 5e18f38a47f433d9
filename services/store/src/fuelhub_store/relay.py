"""The outbox relay: publishes applied changes, in seq order, to ``fuelhub.applied``.

One relay publishes at a time (the cursor row is locked with SKIP LOCKED, so competing store
processes simply skip a round). A crash after publishing and before the cursor moves republishes
the same rows with the same ``message_id`` (``applied-<seq>``): subscribers de-duplicate by it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from faststream.rabbit import RabbitBroker
from fuelhub_common.topology import APPLIED_EXCHANGE, RK_PRICES_APPLIED, RK_STATIONS_APPLIED
from psycopg_pool import AsyncConnectionPool

from fuelhub_store.metrics import StoreMetrics

log = logging.getLogger(__name__)

ROUTING_KEYS: Final = {"station": RK_STATIONS_APPLIED, "prices": RK_PRICES_APPLIED}

# The message body, rendered by Postgres so prices stay exact decimals (payloads are stored as
# text, migration 0006: the cast embeds them as JSON, not as a string).
FETCH = """
SELECT seq, kind, json_build_object(
    'schema_version', '1',
    'type', CASE kind WHEN 'station' THEN 'station.applied' ELSE 'prices.applied' END,
    'seq', seq, 'kind', kind, 'entity_id', entity_id, 'op', op, 'payload', payload::json,
    'event_time', event_time, 'committed_at', committed_at)::text
FROM store.outbox WHERE seq > %s ORDER BY seq LIMIT %s
"""


def applied_message_id(seq: int) -> str:
    return f"applied-{seq}"


class OutboxRelay:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        broker: RabbitBroker,
        metrics: StoreMetrics,
        *,
        batch: int = 500,
        interval: float = 0.5,
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._metrics = metrics
        self._batch = batch
        self._interval = interval
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a round now (called after a local commit)."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch past the cursor and advance it; returns how many were published."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT published_seq FROM store.outbox_relay WHERE id = 1 FOR UPDATE SKIP LOCKED"
            )
            row = await cur.fetchone()
            if row is None:
                return 0  # another process is relaying
            cur = await conn.execute(FETCH, (row[0], self._batch))
            rows = await cur.fetchall()
            if not rows:
                return 0
            # Publishes are pipelined (confirms awaited together); the cursor moves only after
            # every one of them is confirmed.
            await asyncio.gather(
                *(
                    self._broker.publish(
                        body.encode(),
                        exchange=APPLIED_EXCHANGE,
                        routing_key=ROUTING_KEYS[kind],
                        message_id=applied_message_id(seq),
                        content_type="application/json",
                        persist=True,
                        mandatory=False,
                    )
                    for seq, kind, body in rows
                )
            )
            await conn.execute(
                "UPDATE store.outbox_relay SET published_seq = %s, updated_at = now() WHERE id = 1",
                (rows[-1][0],),
            )
        self._metrics.outbox_published.inc(len(rows))
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; failures are logged and retried after a pause."""
        while not stop.is_set():
            try:
                published = await self.publish_pending()
            except Exception:
                log.exception("outbox relay round failed; retrying")
                published = 0
                await asyncio.sleep(self._interval * 4)
            if published >= self._batch:
                continue
            self._wake.clear()
            waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=self._interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()

"""The change-feed handler: one message → one transaction → ack, with bounded retries.

* Undecodable bodies and inconsistent change sets can never apply: dead-lettered at once.
* Postgres unreachable, or refusing work for now (serialization failure, deadlock, disk full,
  connection terminated): hold the message, wait (with back-off) and retry it; nothing is acked
  and the failure does not count towards dead-lettering.
* Any other failure: rolled back and redelivered (nack + requeue) until ``max_attempts``, then
  dead-lettered. Attempts are counted from the quorum queue's ``x-delivery-count`` and, because
  RabbitMQ 4 no longer counts requeues there, by this process too.

Dead-lettering republishes the message to ``fuelhub.dlx`` (→ the store's DLQ) with the reason in
``x-fuelhub-error`` headers, then acks it, so the queue keeps flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import psycopg
from faststream.rabbit import RabbitBroker
from faststream.rabbit.message import RabbitMessage
from fuelhub_common.events import PollCompleted, utcnow
from fuelhub_common.guard import GuardPolicy
from fuelhub_common.logs import event_id_var
from fuelhub_common.topology import DEAD_LETTER_EXCHANGE, STORE_DEAD_LETTER_QUEUE_NAME
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from fuelhub_store.changeset import InconsistentChangeSetError
from fuelhub_store.codec import IncomingEvent, UndecodableMessageError, decode
from fuelhub_store.db import libpq_url, transient_error
from fuelhub_store.memory import gc_paused, release_freed_memory
from fuelhub_store.metrics import StoreMetrics
from fuelhub_store.relay import OutboxRelay
from fuelhub_store.service import Handled, Status, handle

log = logging.getLogger(__name__)

_PERMANENT = (UndecodableMessageError, InconsistentChangeSetError)
_MAX_TRACKED = 10_000


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    database_url: str
    policy: GuardPolicy
    max_attempts: int
    db_retry_max_delay: float = 10.0
    kill_after_commit: bool = False


class ChangeFeedConsumer:
    def __init__(
        self,
        config: ConsumerConfig,
        pool: AsyncConnectionPool,
        broker: RabbitBroker,
        metrics: StoreMetrics,
        stop: asyncio.Event,
        relay: OutboxRelay | None = None,
    ) -> None:
        self._config = config
        self._pool = pool
        self._broker = broker
        self._metrics = metrics
        self._stop = stop
        self._relay = relay
        # Failures seen by this process per message id (bounded: oldest forgotten first).
        self._failures: OrderedDict[str, int] = OrderedDict()

    async def on_message(self, message: RabbitMessage) -> None:
        token = event_id_var.set(message.message_id)
        try:
            with gc_paused():
                await self._process(message)
        finally:
            event_id_var.reset(token)

    async def _process(self, message: RabbitMessage) -> None:
        body: bytes = message.body
        try:
            event = decode(body)
        except UndecodableMessageError as exc:
            await self._dead_letter(message, "undecodable", str(exc), attempts=1)
            return
        event_id_var.set(str(event.event_id))
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                async with self._pool.connection() as conn:
                    handled = await handle(conn, event, body, self._config.policy)
            except _PERMANENT as exc:
                await self._dead_letter(message, type(exc).__name__, str(exc), attempts=1)
                return
            except Exception as exc:
                # The database down, or refusing work for now (a serialization failure, a
                # deadlock, a full disk, a terminated connection): the message is not at fault,
                # so it is held and retried without counting towards dead-lettering.
                reason = transient_error(exc)
                if reason is None and await self._database_down(exc):
                    reason = "unreachable"
                if reason is None:
                    await self._failed(message, event, exc)
                    return
                if self._stop.is_set():
                    await message.nack(requeue=True)
                    return
                log.warning(
                    "postgres unavailable; holding the message and retrying"
                    if reason in ("unreachable", "connection")
                    else "transient database error; holding the message and retrying",
                    extra={"reason": reason, "retry_in": round(delay, 1), "error": str(exc)[:300]},
                )
                self._metrics.messages.labels(event.type, "held").inc()
                await self._sleep(delay)
                delay = min(delay * 2, self._config.db_retry_max_delay)
                continue
            break
        duration = time.perf_counter() - started
        if self._config.kill_after_commit:  # fault injection for the crash-recovery test
            os.kill(os.getpid(), signal.SIGKILL)
        await message.ack()
        self._failures.pop(message.message_id or "", None)
        self._observe(event, handled, duration)
        if (
            handled.status is Status.APPLIED
            and not isinstance(event, PollCompleted)
            and event.parts > 1
        ):
            release_freed_memory()
        if handled.result is not None and handled.result.published.outbox_rows and self._relay:
            self._relay.wake()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _database_down(self, exc: BaseException) -> bool:
        """True when ``exc`` came from Postgres being unreachable (not from this message)."""
        if not isinstance(exc, psycopg.OperationalError | PoolTimeout):
            return False
        try:
            conn = await psycopg.AsyncConnection.connect(
                libpq_url(self._config.database_url), connect_timeout=3
            )
        except psycopg.OperationalError:
            return True
        await conn.close()
        return False

    def _attempts(self, message: RabbitMessage) -> int:
        key = message.message_id or ""
        self._failures[key] = self._failures.get(key, 0) + 1
        self._failures.move_to_end(key)
        while len(self._failures) > _MAX_TRACKED:
            self._failures.popitem(last=False)
        delivered = message.headers.get("x-delivery-count", 0)
        broker_count = int(delivered) + 1 if isinstance(delivered, int | str) else 1
        return max(broker_count, self._failures[key])

    async def _failed(self, message: RabbitMessage, event: IncomingEvent, exc: Exception) -> None:
        attempts = self._attempts(message)
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        if attempts >= self._config.max_attempts:
            await self._dead_letter(message, "max_attempts", reason, attempts=attempts)
            return
        log.warning(
            "change set failed; rolled back, will be redelivered",
            extra={"attempt": attempts, "max_attempts": self._config.max_attempts, "error": reason},
            exc_info=exc,
        )
        self._metrics.messages.labels(event.type, "retried").inc()
        await message.nack(requeue=True)

    async def _dead_letter(
        self, message: RabbitMessage, category: str, reason: str, *, attempts: int
    ) -> None:
        raw = message.raw_message
        headers: dict[str, Any] = dict(raw.headers or {})
        headers.update(
            {
                "x-fuelhub-error": f"{category}: {reason}"[:1000],
                "x-fuelhub-attempts": attempts,
                "x-fuelhub-original-routing-key": raw.routing_key or "",
                "x-fuelhub-dead-lettered-at": utcnow().isoformat(),
            }
        )
        await self._broker.publish(
            message.body,
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=STORE_DEAD_LETTER_QUEUE_NAME,
            headers=headers,
            message_id=message.message_id,
            content_type=message.content_type or "application/json",
            persist=True,
        )
        await message.ack()
        self._failures.pop(message.message_id or "", None)
        self._metrics.messages.labels(raw.routing_key or "unknown", "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            extra={
                "reason": category,
                "error": reason,
                "attempts": attempts,
                "routing_key": raw.routing_key,
                "message_id": message.message_id,
            },
        )

    def _observe(self, event: IncomingEvent, handled: Handled, duration: float) -> None:
        m = self._metrics
        m.messages.labels(event.type, handled.status.value).inc()
        fields: dict[str, Any] = {
            "type": event.type,
            "outcome": handled.status.value,
            "duration_ms": round(duration * 1000, 1),
        }
        if not isinstance(event, PollCompleted):
            fields |= {
                "change_set_id": str(event.change_set_id),
                "part": event.part,
                "parts": event.parts,
                "snapshot": event.snapshot,
                "observed_at": event.observed_at.isoformat(),
            }
        result = handled.result
        if handled.status is Status.APPLIED and result is not None:
            kind = result.kind
            m.apply_seconds.labels(kind).observe(duration)
            m.commit_lag_seconds.labels(kind).observe(
                max(0.0, (utcnow() - event.occurred_at).total_seconds())
            )
            for change, count in result.changed.items():
                m.entities_changed.labels(change).inc(count)
            if result.guard_held:
                m.guard_held.labels(kind).inc(result.guard_held)
            fields |= {
                "changed": result.changed,
                "entities_changed": result.entities_changed,
                "guard_deleted": result.guard_deleted,
                "guard_held": result.guard_held,
                "stale_snapshot": result.stale_snapshot,
                "max_seq": result.published.max_seq,
            }
        log.info("change set %s", handled.status.value, extra=fields)

"""The store's dead-letter queue: how many messages wait there, and moving them back.

Listing message bodies would mean taking them and handing them back, and every hand-back counts
as a delivery on a quorum queue (whose limit would eventually drop them), so the page shows the
count and the re-queue reports what it moved (ids and the errors they failed with).
A re-queue takes one message at a time, republishes it to ``fuelhub.events`` under its original
routing key with a publisher confirm, and only then acknowledges it on the dead-letter queue:
a crash in between duplicates a message (the store's inbox makes that harmless), never loses one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from fuelhub_common.topology import EVENTS_EXCHANGE, STORE_DEAD_LETTER_QUEUE_NAME

_OUR_HEADERS = (
    "x-fuelhub-error",
    "x-fuelhub-attempts",
    "x-fuelhub-original-routing-key",
    "x-fuelhub-dead-lettered-at",
    "x-delivery-count",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)


class BrokerUnavailableError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Requeued:
    message_id: str | None
    routing_key: str
    error: str


def _header(message: AbstractIncomingMessage, name: str) -> str:
    value: Any = (message.headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


async def waiting(broker_url: str) -> int:
    """Messages in the store's dead-letter queue (0 if it was never declared)."""
    try:
        connection = await aio_pika.connect(broker_url, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        raise BrokerUnavailableError(str(exc)) from None
    async with connection:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(STORE_DEAD_LETTER_QUEUE_NAME, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return 0
        return int(queue.declaration_result.message_count or 0)


async def requeue(broker_url: str, *, limit: int) -> list[Requeued]:
    """Move up to ``limit`` dead letters back to the events exchange; returns what moved."""
    try:
        connection = await aio_pika.connect(broker_url, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        raise BrokerUnavailableError(str(exc)) from None
    moved: list[Requeued] = []
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(STORE_DEAD_LETTER_QUEUE_NAME, passive=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE.name, ensure=True)
        while len(moved) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            routing_key = _header(message, "x-fuelhub-original-routing-key")
            if not routing_key:
                await message.nack(requeue=True)  # not ours to route: leave it
                break
            headers = {k: v for k, v in (message.headers or {}).items() if k not in _OUR_HEADERS}
            await exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    message_id=message.message_id,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=routing_key,
                mandatory=True,
            )
            await message.ack()
            moved.append(
                Requeued(message.message_id, routing_key, _header(message, "x-fuelhub-error"))
            )
    return moved

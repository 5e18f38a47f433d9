"""RabbitMQ topology: every exchange, routing key and shared queue, declared in one place.

Publishers declare the store's queue as well as the exchange: a change set published before the
store first starts is then queued, not dropped, and ``mandatory`` publishing can treat an
unroutable message as the error it is.
"""

from __future__ import annotations

from typing import Final

from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas.queue import QueueType

# Raw change events from the ingestors (and poll outcomes).
EVENTS_EXCHANGE: Final = RabbitExchange("fuelhub.events", type=ExchangeType.TOPIC, durable=True)
# The store's applied-change feed: de-duplicated, guard-checked truth, in commit order.
APPLIED_EXCHANGE: Final = RabbitExchange("fuelhub.applied", type=ExchangeType.TOPIC, durable=True)
# Where queues send what they cannot deliver (poison messages, delivery limit reached).
DEAD_LETTER_EXCHANGE: Final = RabbitExchange("fuelhub.dlx", type=ExchangeType.DIRECT, durable=True)

RK_STATIONS_CHANGED: Final = "stations.changed.v1"
RK_PRICES_CHANGED: Final = "prices.changed.v1"
RK_POLL_COMPLETED: Final = "poll.completed.v1"
RK_STATIONS_APPLIED: Final = "stations.applied.v1"
RK_PRICES_APPLIED: Final = "prices.applied.v1"

STORE_QUEUE_NAME: Final = "fuelhub.store.changes"
STORE_DEAD_LETTER_QUEUE_NAME: Final = "fuelhub.store.changes.dlq"
# Quorum queues count failed deliveries; past this the message is dead-lettered. RabbitMQ 4.x
# defaults to 20; we set it explicitly so 3.x and 4.x behave alike.
STORE_DELIVERY_LIMIT: Final = 10


def quorum_queue(
    name: str,
    *,
    dead_letter_routing_key: str | None = None,
    delivery_limit: int | None = STORE_DELIVERY_LIMIT,
    routing_key: str = "",
) -> RabbitQueue:
    """A durable quorum queue that dead-letters into ``fuelhub.dlx``.

    Every quorum queue gets a dead-letter exchange: without one, a message past its delivery
    limit is dropped.
    """
    arguments: dict[str, str | int] = {
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
        "x-dead-letter-routing-key": dead_letter_routing_key or f"{name}.dlq",
        # At-least-once dead-lettering needs reject-publish overflow; RabbitMQ then keeps a
        # dead-lettered message until the dead-letter queue confirms it.
        "x-overflow": "reject-publish",
        "x-dead-letter-strategy": "at-least-once",
    }
    if delivery_limit is not None:
        arguments["x-delivery-limit"] = delivery_limit
    queue: RabbitQueue = RabbitQueue(  # type: ignore[call-overload]
        name,
        durable=True,
        queue_type=QueueType.QUORUM,
        arguments=arguments,
        routing_key=routing_key,
    )
    return queue


def dead_letter_queue(name: str) -> RabbitQueue:
    """The durable queue that collects ``name``'s dead letters (routing key ``<name>``)."""
    return RabbitQueue(
        name,
        durable=True,
        queue_type=QueueType.QUORUM,
        routing_key=name,
    )


STORE_QUEUE: Final = quorum_queue(
    STORE_QUEUE_NAME, dead_letter_routing_key=STORE_DEAD_LETTER_QUEUE_NAME
)
STORE_DEAD_LETTER_QUEUE: Final = dead_letter_queue(STORE_DEAD_LETTER_QUEUE_NAME)
STORE_BINDINGS: Final = (RK_STATIONS_CHANGED, RK_PRICES_CHANGED, RK_POLL_COMPLETED)


async def declare_topology(broker: RabbitBroker) -> None:
    """Declare the exchanges and the store's queues with their bindings (idempotent)."""
    events = await broker.declare_exchange(EVENTS_EXCHANGE)
    await broker.declare_exchange(APPLIED_EXCHANGE)
    dlx = await broker.declare_exchange(DEAD_LETTER_EXCHANGE)
    dlq = await broker.declare_queue(STORE_DEAD_LETTER_QUEUE)
    await dlq.bind(dlx, routing_key=STORE_DEAD_LETTER_QUEUE_NAME)
    queue = await broker.declare_queue(STORE_QUEUE)
    for routing_key in STORE_BINDINGS:
        await queue.bind(events, routing_key=routing_key)

"""Publishing fuelhub events: persistent, confirmed, mandatory, with deterministic message ids.

A change set counts as published only when the broker has confirmed every part. Publishing is
retried with backoff until it succeeds or the process is told to stop; the caller advances its
remembered state only after success.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import aio_pika
from faststream.rabbit import RabbitBroker
from faststream.rabbit.publisher import RabbitPublisher
from faststream.rabbit.schemas import Channel

from fuelhub_common.events import (
    PollCompleted,
    PricesApplied,
    PricesChanged,
    Source,
    StationApplied,
    StationsChanged,
    part_event_id,
    utcnow,
)
from fuelhub_common.topology import (
    APPLIED_EXCHANGE,
    EVENTS_EXCHANGE,
    RK_POLL_COMPLETED,
    RK_PRICES_APPLIED,
    RK_PRICES_CHANGED,
    RK_STATIONS_APPLIED,
    RK_STATIONS_CHANGED,
)

log = logging.getLogger(__name__)

ChangeSetModel = type[StationsChanged] | type[PricesChanged]
DEFAULT_MAX_PART_BYTES = 1024 * 1024


class StopRequestedError(Exception):
    """Publishing was abandoned because the process is stopping."""


def make_broker(url: str, **kwargs: object) -> RabbitBroker:
    """A broker whose channel waits for publisher confirms and raises on returned messages."""
    return RabbitBroker(
        url,
        default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        **kwargs,  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class EventPublishers:
    """The declared publishers of the raw change feed (they also document it in AsyncAPI)."""

    stations: RabbitPublisher
    prices: RabbitPublisher
    polls: RabbitPublisher


def declare_event_publishers(broker: RabbitBroker) -> EventPublishers:
    """Register the raw-feed publishers on ``broker`` (persistent, mandatory)."""
    common = {"exchange": EVENTS_EXCHANGE, "persist": True, "mandatory": True}
    return EventPublishers(
        stations=broker.publisher(
            routing_key=RK_STATIONS_CHANGED,
            title="stations.changed.v1",
            description=(
                "Stations created, changed or deleted at Source 1: one part of a change set, "
                "full new state per station, versioned by observation time."
            ),
            schema=StationsChanged,
            content_type="application/json",
            **common,  # type: ignore[arg-type]
        ),
        prices=broker.publisher(
            routing_key=RK_PRICES_CHANGED,
            title="prices.changed.v1",
            description=(
                "Station price lists created, changed or deleted at Source 2: one part of a change "
                "set, each station's whole price list, versioned by observation time."
            ),
            schema=PricesChanged,
            content_type="application/json",
            **common,  # type: ignore[arg-type]
        ),
        polls=broker.publisher(
            routing_key=RK_POLL_COMPLETED,
            title="poll.completed.v1",
            description="One poll of an upstream and its outcome (status page, alerts, guard).",
            schema=PollCompleted,
            content_type="application/json",
            **common,  # type: ignore[arg-type]
        ),
    )


@dataclass(frozen=True, slots=True)
class AppliedPublishers:
    """The declared publishers of the store's applied-change feed."""

    stations: RabbitPublisher
    prices: RabbitPublisher


def declare_applied_publishers(broker: RabbitBroker) -> AppliedPublishers:
    """Register the applied-feed publishers on ``broker`` (persistent; no queue required)."""
    common = {"exchange": APPLIED_EXCHANGE, "persist": True, "mandatory": False}
    return AppliedPublishers(
        stations=broker.publisher(
            routing_key=RK_STATIONS_APPLIED,
            title="stations.applied.v1",
            description=(
                "A station the store created, changed or removed, in commit order (seq). "
                "The de-duplicated, guard-checked truth: subscribe here rather than to the raw "
                "feed. Catch up from the outbox by seq (docs/store.md)."
            ),
            schema=StationApplied,
            content_type="application/json",
            **common,  # type: ignore[arg-type]
        ),
        prices=broker.publisher(
            routing_key=RK_PRICES_APPLIED,
            title="prices.applied.v1",
            description="A station's price list as the store now holds it, in commit order (seq).",
            schema=PricesApplied,
            content_type="application/json",
            **common,  # type: ignore[arg-type]
        ),
    )


@dataclass(frozen=True, slots=True)
class EncodedPart:
    event_id: UUID
    body: bytes
    changes: int


def encode_change_set(
    *,
    model: ChangeSetModel,
    source: Source,
    change_set_id: UUID,
    observed_at: datetime,
    snapshot: bool,
    changes: Sequence[bytes],
    kept_ids: Sequence[int] = (),
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES,
    unidentified_records: int = 0,
) -> list[EncodedPart]:
    """Split pre-encoded changes into numbered parts of at most ``max_part_bytes`` each.

    Changes arrive already JSON-encoded (the ingestor keeps bytes, not models, to stay small);
    each part's envelope is rendered by the model itself and the changes spliced into its empty
    ``changes`` array, so every part validates as ``model``.
    """
    chunks: list[list[bytes]] = [[]]
    size = 0
    for change in changes:
        if chunks[-1] and size + len(change) + 1 > max_part_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(change)
        size += len(change) + 1
    parts = len(chunks)
    occurred_at = utcnow()
    encoded: list[EncodedPart] = []
    for number, chunk in enumerate(chunks, start=1):
        event_id = part_event_id(change_set_id, number)
        envelope = model(
            event_id=event_id,
            source=source,
            occurred_at=occurred_at,
            change_set_id=change_set_id,
            part=number,
            parts=parts,
            snapshot=snapshot,
            observed_at=observed_at,
            kept_ids=tuple(kept_ids) if number == parts else (),
            unidentified_records=unidentified_records if number == parts else 0,
            changes=(),
        ).model_dump_json()
        head = envelope.encode()
        tail = b'"changes":[]}'
        if not head.endswith(tail):  # pragma: no cover - guards the splice against model edits
            raise AssertionError("'changes' must be the last field of a change-set event")
        body = head[: -len(tail)] + b'"changes":[' + b",".join(chunk) + b"]}"
        encoded.append(EncodedPart(event_id=event_id, body=body, changes=len(chunk)))
    return encoded


def routing_key_for(model: ChangeSetModel) -> str:
    return RK_STATIONS_CHANGED if model is StationsChanged else RK_PRICES_CHANGED


class ConfirmedPublisher:
    """Publishes to ``fuelhub.events`` until the broker confirms, backing off between attempts.

    It keeps its own plain (non-robust) AMQP connection and drops it after any failure: the
    client library's automatic recovery can leave, after a broker crash, a channel that never
    comes back, and publishes that then wait for ever. A fresh connection per retry has no such
    state. Messages are persistent and ``mandatory`` (an unroutable message is an error).
    """

    def __init__(
        self,
        url: str,
        stop: asyncio.Event,
        *,
        base_delay: float = 0.5,
        max_delay: float = 15.0,
        attempt_timeout: float = 30.0,
    ) -> None:
        self._url = url
        self._stop = stop
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._attempt_timeout = attempt_timeout
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self.retries = 0

    async def _exchange_ready(self) -> aio_pika.abc.AbstractExchange:
        if self._exchange is None or self._connection is None or self._connection.is_closed:
            self._connection = await aio_pika.connect(self._url, timeout=self._attempt_timeout)
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            self._exchange = await channel.declare_exchange(
                EVENTS_EXCHANGE.name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        return self._exchange

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def publish(
        self, routing_key: str, body: bytes, *, message_id: UUID, message_type: str
    ) -> None:
        """Publish one message; return only once confirmed. Raises StopRequestedError."""
        attempt = 0
        message = aio_pika.Message(
            body,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(message_id),
            type=message_type,
            content_type="application/json",
            timestamp=utcnow(),
        )
        while True:
            # Stopping never interrupts an attempt that may succeed; it only ends the back-off.
            try:
                exchange = await self._exchange_ready()
                await exchange.publish(
                    message, routing_key=routing_key, mandatory=True, timeout=self._attempt_timeout
                )
                return
            except Exception as exc:  # any broker failure: reconnect, back off, try again
                await self.close()
                attempt += 1
                self.retries += 1
                delay = random.random() * min(self._max_delay, self._base_delay * 2**attempt)
                log.warning(
                    "publish not confirmed, retrying",
                    extra={
                        "message_id": str(message_id),
                        "attempt": attempt,
                        "delay": round(delay, 2),
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                except TimeoutError:
                    continue
                raise StopRequestedError from exc

"""Decoding the raw feed's messages into event models (pure)."""

from __future__ import annotations

from typing import Annotated

from fuelhub_common.events import PollCompleted, PricesChanged, StationsChanged
from pydantic import Field, TypeAdapter, ValidationError

IncomingEvent = StationsChanged | PricesChanged | PollCompleted

_ADAPTER: TypeAdapter[IncomingEvent] = TypeAdapter(
    Annotated[IncomingEvent, Field(discriminator="type")]
)


class UndecodableMessageError(ValueError):
    """The body is not a v1 event the store knows: it will never apply (dead-letter it)."""


def decode(body: bytes | str) -> IncomingEvent:
    """Parse and validate one message body; the error names the first few bad fields."""
    try:
        return _ADAPTER.validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise UndecodableMessageError(
            f"{exc.error_count()} validation error(s): {problems}"
        ) from None

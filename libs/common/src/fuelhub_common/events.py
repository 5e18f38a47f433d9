"""The fuelhub event contract, version 1.

Publishers (the ingestors, the store's applied-change feed) and consumers (the store, other
teams) share these models, so they cannot drift. Every event is an immutable fact with an id, a
time and a schema version.

Entity semantics (why the shapes are what they are):

* An entity change carries the entity's **full new state** and a **version** (the UTC time at
  which the ingestor observed the source: the poll's start). A consumer applies a change only
  when its version is newer than what it holds, so reordered and duplicated deliveries converge.
* A **station** is one entity (Source 1). A station's **whole price list** is one entity
  (Source 2): a fuel missing from a newer list is a removed price.
* A deletion is a **tombstone**: the entity id and the version at which its absence was
  confirmed.
* A change set may be split into numbered **parts** (``part`` of ``parts``) that share one
  ``change_set_id``; a consumer applies the set atomically once every part has arrived.
* ``snapshot=True`` means the set holds every entity the source had at ``observed_at``: a
  consumer may reconcile (delete what the snapshot lacks), through the mass-deletion guard.

See ``docs/events.md`` for the schema-evolution policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID, uuid5

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION: Literal["1"] = "1"

MAX_ADDRESS_LENGTH = 2000
MAX_URL_LENGTH = 2000
MAX_NAME_LENGTH = 100
MAX_SERVICE_NAME_LENGTH = 500
MAX_STATION_ID = 2**63 - 1
MAX_NUMBER = 2_147_483_647
# Prices are NUMERIC(12, 4) in the store: 8 integer digits, 4 decimals.
MAX_PRICE = Decimal("99999999.9999")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a UTC offset")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
StationId = Annotated[int, Field(ge=1, le=MAX_STATION_ID)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
FuelName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]
ServiceName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SERVICE_NAME_LENGTH)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)]


class Source(StrEnum):
    """The upstream a fact was observed at."""

    SOURCE1 = "source1"
    SOURCE2 = "source2"
    STORE = "store"


class _Fact(BaseModel):
    # Unknown fields are ignored, so adding an optional field is a compatible change (v1).
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- entity states ------------------------------------------------------------------------------


class StationState(_Fact):
    """A station as Source 1 describes it, validated and normalised."""

    id: StationId
    latitude: Annotated[Decimal, Field(ge=-90, le=90, max_digits=12, decimal_places=9)]
    longitude: Annotated[Decimal, Field(ge=-180, le=180, max_digits=13, decimal_places=9)]
    number: Annotated[int, Field(ge=0, le=MAX_NUMBER)]
    address: Annotated[str, StringConstraints(max_length=MAX_ADDRESS_LENGTH)] | None
    image_urls: tuple[Url, ...] = ()
    services: tuple[ServiceName, ...] = Field(
        default=(), description="Normalised, de-duplicated service names, in source order."
    )


class FuelPrice(_Fact):
    """One fuel's price at a station, as an exact decimal with its ISO 4217 currency."""

    fuel: FuelName = Field(description="Normalised fuel type name, e.g. 'АИ-95'.")
    price: Annotated[Decimal, Field(gt=0, le=MAX_PRICE, max_digits=12, decimal_places=4)]
    currency: CurrencyCode


class PriceListState(_Fact):
    """A station's whole price list (Source 2): a fuel absent here is not sold any more."""

    station_id: StationId
    prices: tuple[FuelPrice, ...] = Field(description="At most one price per fuel name.")


# --- entity changes -----------------------------------------------------------------------------


class StationUpserted(_Fact):
    op: Literal["upsert"] = "upsert"
    id: StationId
    version: UtcDatetime = Field(description="When the source was observed (the poll's start).")
    state: StationState


class StationDeleted(_Fact):
    op: Literal["delete"] = "delete"
    id: StationId
    version: UtcDatetime


class PriceListUpserted(_Fact):
    op: Literal["upsert"] = "upsert"
    id: StationId = Field(description="The station whose price list this is.")
    version: UtcDatetime
    state: PriceListState


class PriceListDeleted(_Fact):
    op: Literal["delete"] = "delete"
    id: StationId
    version: UtcDatetime


StationChange = Annotated[StationUpserted | StationDeleted, Field(discriminator="op")]
PriceListChange = Annotated[PriceListUpserted | PriceListDeleted, Field(discriminator="op")]


# --- events -------------------------------------------------------------------------------------


class Event(_Fact):
    """The envelope every fuelhub event carries."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    event_id: UUID = Field(description="Unique per message; also the AMQP message_id.")
    source: Source
    occurred_at: UtcDatetime = Field(description="When the event was created.")


class _ChangeSetPart(Event):
    change_set_id: UUID = Field(description="Shared by every part of one change set.")
    part: Annotated[int, Field(ge=1)] = 1
    parts: Annotated[int, Field(ge=1)] = 1
    snapshot: bool = Field(
        description="True when the set (all parts together) holds every entity the source had."
    )
    observed_at: UtcDatetime = Field(description="The poll's start; the version of its entities.")
    kept_ids: tuple[StationId, ...] = Field(
        default=(),
        description=(
            "Entities the source still lists but whose record was rejected in this poll: "
            "a consumer reconciling a snapshot must keep them (neither update nor delete)."
        ),
    )
    unidentified_records: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description=(
            "Records rejected in this poll whose entity could not be told (no usable id, or "
            "an id listed twice). When not 0, an entity the set lacks may be one of them: a "
            "consumer reconciling a snapshot must hold such absences as a mass deletion."
        ),
    )


class StationsChanged(_ChangeSetPart):
    """Stations created, changed or deleted at Source 1 (one part of a change set)."""

    type: Literal["stations.changed"] = "stations.changed"
    changes: tuple[StationChange, ...]


class PricesChanged(_ChangeSetPart):
    """Price lists created, changed or deleted at Source 2 (one part of a change set)."""

    type: Literal["prices.changed"] = "prices.changed"
    changes: tuple[PriceListChange, ...]


ChangeSetEvent = Annotated[StationsChanged | PricesChanged, Field(discriminator="type")]


class PollOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"


class PollCompleted(Event):
    """One poll of an upstream, whatever its outcome (feeds the status page and alerts)."""

    type: Literal["poll.completed"] = "poll.completed"
    poll_id: UUID
    started_at: UtcDatetime
    finished_at: UtcDatetime
    outcome: PollOutcome
    error: str | None = None
    records_seen: Annotated[int, Field(ge=0)] = 0
    records_accepted: Annotated[int, Field(ge=0)] = 0
    records_rejected: Annotated[int, Field(ge=0)] = 0
    rejections_by_reason: dict[str, int] = Field(default_factory=dict)
    rejection_samples: tuple[str, ...] = Field(
        default=(), description="A few rejected records' reasons, for the status page."
    )
    change_set_id: UUID | None = None
    snapshot: bool = False
    upserts: Annotated[int, Field(ge=0)] = 0
    deletions: Annotated[int, Field(ge=0)] = 0
    held_deletions: Annotated[int, Field(ge=0)] = 0
    held_deletion_ids: tuple[int, ...] = Field(
        default=(), description="Up to 1,000 ids whose deletion the guard holds back."
    )


def part_event_id(change_set_id: UUID, part: int) -> UUID:
    """The deterministic event id (and AMQP message_id) of one part of a change set.

    Re-publishing a change set after a failed confirm yields the same ids, so the consumer's
    inbox recognises the duplicates.
    """
    return uuid5(change_set_id, f"part-{part}")


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- the store's applied-change feed (exchange fuelhub.applied) ---------------------------------


class AppliedStationState(_Fact):
    """A station as the store now holds it (services by name, as in the raw feed)."""

    id: StationId
    latitude: Decimal
    longitude: Decimal
    number: int
    address: str | None
    image_urls: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    version: UtcDatetime


class AppliedDeletion(_Fact):
    id: StationId
    version: UtcDatetime | None = None


class AppliedPrice(_Fact):
    fuel: str
    fuel_type_id: int
    price: Decimal
    currency: CurrencyCode


class AppliedPriceList(_Fact):
    """A station's whole current price list (empty when its list was removed)."""

    station_id: StationId
    version: UtcDatetime | None = None
    prices: tuple[AppliedPrice, ...] = ()


class _Applied(_Fact):
    schema_version: Literal["1"] = SCHEMA_VERSION
    seq: Annotated[int, Field(ge=1)] = Field(
        description="Position in the store's commit-ordered feed; AMQP message_id 'applied-<seq>'."
    )
    entity_id: StationId
    op: Literal["upsert", "delete"]
    event_time: UtcDatetime = Field(description="When the change was observed at the source.")
    committed_at: UtcDatetime = Field(description="When the store committed it.")


class StationApplied(_Applied):
    """A station the store created, changed or removed (after de-duplication and the guard)."""

    type: Literal["station.applied"] = "station.applied"
    kind: Literal["station"] = "station"
    payload: AppliedStationState | AppliedDeletion


class PricesApplied(_Applied):
    """A station's price list as the store now holds it."""

    type: Literal["prices.applied"] = "prices.applied"
    kind: Literal["prices"] = "prices"
    payload: AppliedPriceList

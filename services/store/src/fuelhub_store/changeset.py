"""Change sets as the store applies them: parts merged, flattened into staging rows (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from fuelhub_common.events import (
    PriceListChange,
    PriceListUpserted,
    PricesChanged,
    StationChange,
    StationsChanged,
    StationUpserted,
)

Kind = Literal["stations", "prices"]
ChangeSetPart = StationsChanged | PricesChanged

StationRow = tuple[
    int, str, datetime, Decimal | None, Decimal | None, int | None, str | None, list[str], list[str]
]
PriceListRow = tuple[int, str, datetime]
PriceRow = tuple[int, datetime, str, Decimal, str]


class InconsistentChangeSetError(ValueError):
    """The parts of a change set disagree with each other (a publisher bug: poison)."""


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Every part of one change set, merged; applied in one transaction."""

    kind: Kind
    change_set_id: UUID
    source: str
    snapshot: bool
    observed_at: datetime
    occurred_at: datetime
    parts: int
    stations: tuple[StationChange, ...] = ()
    price_lists: tuple[PriceListChange, ...] = ()
    kept_ids: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return len(self.stations) + len(self.price_lists)


def kind_of(part: ChangeSetPart) -> Kind:
    return "stations" if isinstance(part, StationsChanged) else "prices"


def merge_parts(parts: Sequence[ChangeSetPart]) -> ChangeSet:
    """Merge the parts of one change set, checking they belong together and none is missing."""
    if not parts:
        raise InconsistentChangeSetError("no parts")
    first = parts[0]
    numbers = sorted(p.part for p in parts)
    if numbers != list(range(1, first.parts + 1)):
        raise InconsistentChangeSetError(f"parts {numbers} do not make 1..{first.parts}")
    for p in parts:
        same = (
            type(p) is type(first)
            and p.change_set_id == first.change_set_id
            and p.parts == first.parts
            and p.snapshot == first.snapshot
            and p.observed_at == first.observed_at
            and p.source == first.source
        )
        if not same:
            raise InconsistentChangeSetError(
                f"part {p.part} disagrees with part {first.part} of change set "
                f"{first.change_set_id} (type, parts, snapshot, observed_at or source)"
            )
    ordered = sorted(parts, key=lambda p: p.part)
    kept = tuple(k for p in ordered for k in p.kept_ids)
    common = {
        "kind": kind_of(first),
        "change_set_id": first.change_set_id,
        "source": first.source.value,
        "snapshot": first.snapshot,
        "observed_at": first.observed_at,
        "occurred_at": min(p.occurred_at for p in parts),
        "parts": first.parts,
        "kept_ids": kept,
    }
    if isinstance(first, StationsChanged):
        stations = tuple(c for p in ordered if isinstance(p, StationsChanged) for c in p.changes)
        return ChangeSet(stations=stations, **common)  # type: ignore[arg-type]
    lists = tuple(c for p in ordered if isinstance(p, PricesChanged) for c in p.changes)
    return ChangeSet(price_lists=lists, **common)  # type: ignore[arg-type]


def station_rows(changes: Sequence[StationChange]) -> Iterator[StationRow]:
    """Rows for the ``stg_stations`` staging table (deletions carry no state)."""
    for change in changes:
        if isinstance(change, StationUpserted):
            s = change.state
            yield (
                change.id,
                "upsert",
                change.version,
                s.latitude,
                s.longitude,
                s.number,
                s.address,
                list(s.image_urls),
                list(s.services),
            )
        else:
            yield (change.id, "delete", change.version, None, None, None, None, [], [])


def price_list_rows(changes: Sequence[PriceListChange]) -> Iterator[PriceListRow]:
    for change in changes:
        yield (change.id, change.op, change.version)


def price_rows(changes: Sequence[PriceListChange]) -> Iterator[PriceRow]:
    """One row per fuel of every upserted price list, keyed by (station, list version)."""
    for change in changes:
        if isinstance(change, PriceListUpserted):
            for price in change.state.prices:
                yield (change.id, change.version, price.fuel, price.price, price.currency)

"""Change sets as the store applies them: parts merged, flattened into staging rows (pure).

A part arrives as a validated event model. Parts staged earlier are read back from Postgres as
JSON that was validated when it arrived; :func:`part_from_stored_json` turns it into rows without
validating it again (validation is most of the cost of a large change set).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import orjson
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

# Decimals travel to Postgres as their text (cast to NUMERIC in SQL): psycopg's binary NUMERIC
# dumper costs ≈ 3 µs a value, a third of staging a first sync; exactness is the same.
StationRow = tuple[
    int, str, datetime, str | None, str | None, int | None, str | None, list[str], list[str]
]
PriceListRow = tuple[int, str, datetime]
PriceRow = tuple[int, datetime, str, str, str]


class InconsistentChangeSetError(ValueError):
    """The parts of a change set disagree with each other (a publisher bug: poison)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One part's envelope and its changes as staging rows."""

    kind: Kind
    change_set_id: UUID
    part: int
    parts: int
    snapshot: bool
    observed_at: datetime
    occurred_at: datetime
    source: str
    kept_ids: tuple[int, ...] = ()
    unidentified_records: int = 0
    station_rows: list[StationRow] = field(default_factory=list)
    price_list_rows: list[PriceListRow] = field(default_factory=list)
    price_rows: list[PriceRow] = field(default_factory=list)


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
    station_rows: list[StationRow] = field(default_factory=list)
    price_list_rows: list[PriceListRow] = field(default_factory=list)
    price_rows: list[PriceRow] = field(default_factory=list)
    kept_ids: tuple[int, ...] = ()
    unidentified_records: int = 0

    @property
    def size(self) -> int:
        return len(self.station_rows) + len(self.price_list_rows)


def kind_of(part: ChangeSetPart) -> Kind:
    return "stations" if isinstance(part, StationsChanged) else "prices"


def station_rows(changes: Sequence[StationChange]) -> Iterator[StationRow]:
    """Rows for the ``stg_stations`` staging table (deletions carry no state)."""
    for change in changes:
        if isinstance(change, StationUpserted):
            s = change.state
            yield (
                change.id,
                "upsert",
                change.version,
                str(s.latitude),
                str(s.longitude),
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
                yield (change.id, change.version, price.fuel, str(price.price), price.currency)


def part_from_model(event: ChangeSetPart) -> Part:
    common: dict[str, Any] = {
        "kind": kind_of(event),
        "change_set_id": event.change_set_id,
        "part": event.part,
        "parts": event.parts,
        "snapshot": event.snapshot,
        "observed_at": event.observed_at,
        "occurred_at": event.occurred_at,
        "source": event.source.value,
        "kept_ids": tuple(event.kept_ids),
        "unidentified_records": event.unidentified_records,
    }
    if isinstance(event, StationsChanged):
        return Part(station_rows=list(station_rows(event.changes)), **common)
    return Part(
        price_list_rows=list(price_list_rows(event.changes)),
        price_rows=list(price_rows(event.changes)),
        **common,
    )


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _decimal(value: Any) -> str:
    """A decimal as the contract serialises it (a string; a JSON number is accepted too)."""
    return value if isinstance(value, str) else str(value)


def part_from_stored_json(body: bytes | str) -> Part:
    """Rows of a part that was validated when it arrived (no second validation)."""
    doc: Mapping[str, Any] = orjson.loads(body)
    kind: Kind = "stations" if doc["type"] == "stations.changed" else "prices"
    common: dict[str, Any] = {
        "kind": kind,
        "change_set_id": UUID(doc["change_set_id"]),
        "part": int(doc["part"]),
        "parts": int(doc["parts"]),
        "snapshot": bool(doc["snapshot"]),
        "observed_at": _time(doc["observed_at"]),
        "occurred_at": _time(doc["occurred_at"]),
        "source": str(doc["source"]),
        "kept_ids": tuple(int(k) for k in doc.get("kept_ids", ())),
        "unidentified_records": int(doc.get("unidentified_records", 0)),
    }
    if kind == "stations":
        rows: list[StationRow] = []
        for c in doc["changes"]:
            if c["op"] == "upsert":
                s = c["state"]
                rows.append(
                    (
                        int(c["id"]),
                        "upsert",
                        _time(c["version"]),
                        _decimal(s["latitude"]),
                        _decimal(s["longitude"]),
                        int(s["number"]),
                        s.get("address"),
                        list(s.get("image_urls", ())),
                        list(s.get("services", ())),
                    )
                )
            else:
                rows.append((int(c["id"]), "delete", _time(c["version"]), None, None, None, None,
                             [], []))  # fmt: skip
        return Part(station_rows=rows, **common)
    lists: list[PriceListRow] = []
    prices: list[PriceRow] = []
    for c in doc["changes"]:
        version = _time(c["version"])
        lists.append((int(c["id"]), str(c["op"]), version))
        if c["op"] == "upsert":
            for p in c["state"]["prices"]:
                prices.append(
                    (int(c["id"]), version, str(p["fuel"]), _decimal(p["price"]), p["currency"])
                )
    return Part(price_list_rows=lists, price_rows=prices, **common)


def merge_parts(parts: Sequence[Part | ChangeSetPart]) -> ChangeSet:
    """Merge the parts of one change set, checking they belong together and none is missing."""
    if not parts:
        raise InconsistentChangeSetError("no parts")
    items = [p if isinstance(p, Part) else part_from_model(p) for p in parts]
    first = items[0]
    numbers = sorted(p.part for p in items)
    if numbers != list(range(1, first.parts + 1)):
        raise InconsistentChangeSetError(f"parts {numbers} do not make 1..{first.parts}")
    for p in items:
        same = (
            p.kind == first.kind
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
    ordered = sorted(items, key=lambda p: p.part)
    return ChangeSet(
        kind=first.kind,
        change_set_id=first.change_set_id,
        source=first.source,
        snapshot=first.snapshot,
        observed_at=first.observed_at,
        occurred_at=min(p.occurred_at for p in items),
        parts=first.parts,
        station_rows=[r for p in ordered for r in p.station_rows],
        price_list_rows=[r for p in ordered for r in p.price_list_rows],
        price_rows=[r for p in ordered for r in p.price_rows],
        kept_ids=tuple(k for p in ordered for k in p.kept_ids),
        unidentified_records=sum(p.unidentified_records for p in ordered),
    )

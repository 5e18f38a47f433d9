"""Change sets as the store applies them: parts merged, flattened into staging rows (pure).

A part arrives as a validated event model. Parts staged earlier are read back from Postgres as
JSON that was validated when it arrived; :func:`part_from_stored_json` turns it into rows without
validating it again (validation is most of the cost of a large change set).

A merged :class:`ChangeSet` holds the parts' headers, not their rows: the rows are loaded one part
at a time while they are copied into Postgres (:meth:`ChangeSet.each_part`), so a 100,000-station
set never has all its rows in memory at once (it peaked at 300 MB above the store's resting size).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
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
class PartHeader:
    """What one part says about its change set, without its changes (kept beside a staged part)."""

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
    size: int = 0
    """Entities the part carries (stations or price lists)."""

    def to_json(self) -> str:
        # orjson writes a dataclass as an object of its fields (UUID and datetime as ISO text,
        # the tuple as an array): the envelope's own key names, which _header reads back.
        return orjson.dumps(self).decode()

    @classmethod
    def from_json(cls, text: str) -> PartHeader:
        doc = orjson.loads(text)
        return _header(doc, "stations" if doc["kind"] == "stations" else "prices", int(doc["size"]))


def _header(doc: Mapping[str, Any], kind: Kind, size: int) -> PartHeader:
    """A header from a stored header's or a part body's envelope (their keys are the same)."""
    return PartHeader(
        kind=kind,
        change_set_id=UUID(doc["change_set_id"]),
        part=int(doc["part"]),
        parts=int(doc["parts"]),
        snapshot=bool(doc["snapshot"]),
        observed_at=_time(doc["observed_at"]),
        occurred_at=_time(doc["occurred_at"]),
        source=str(doc["source"]),
        kept_ids=tuple(int(k) for k in doc.get("kept_ids", ())),
        unidentified_records=int(doc.get("unidentified_records", 0)),
        size=size,
    )


@dataclass(frozen=True, slots=True)
class Part:
    """One part's header and its changes as staging rows."""

    header: PartHeader
    station_rows: list[StationRow] = field(default_factory=list)
    price_list_rows: list[PriceListRow] = field(default_factory=list)
    price_rows: list[PriceRow] = field(default_factory=list)


PartLoader = Callable[[int], Awaitable[Part]]
"""Part number -> that part with its rows (read back from where it was staged)."""


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Every part of one change set, merged; applied in one transaction.

    Its rows are not held here: :meth:`each_part` loads them one part at a time.
    """

    kind: Kind
    change_set_id: UUID
    source: str
    snapshot: bool
    observed_at: datetime
    occurred_at: datetime
    parts: int
    size: int
    """Entities in the whole set (stations or price lists)."""
    load_part: PartLoader
    kept_ids: tuple[int, ...] = ()
    unidentified_records: int = 0

    async def each_part(self) -> AsyncIterator[Part]:
        """The parts with their rows, in part order; only one is loaded at a time."""
        for number in range(1, self.parts + 1):
            yield await self.load_part(number)


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


def header_of(event: ChangeSetPart) -> PartHeader:
    return PartHeader(
        kind=kind_of(event),
        change_set_id=event.change_set_id,
        part=event.part,
        parts=event.parts,
        snapshot=event.snapshot,
        observed_at=event.observed_at,
        occurred_at=event.occurred_at,
        source=event.source.value,
        kept_ids=tuple(event.kept_ids),
        unidentified_records=event.unidentified_records,
        size=len(event.changes),
    )


def part_from_model(event: ChangeSetPart) -> Part:
    header = header_of(event)
    if isinstance(event, StationsChanged):
        return Part(header, station_rows=list(station_rows(event.changes)))
    return Part(
        header,
        price_list_rows=list(price_list_rows(event.changes)),
        price_rows=list(price_rows(event.changes)),
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
    header = _header(doc, kind, len(doc["changes"]))
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
        return Part(header, station_rows=rows)
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
    return Part(header, price_list_rows=lists, price_rows=prices)


def merge_headers(headers: Sequence[PartHeader], load_part: PartLoader) -> ChangeSet:
    """Merge the headers of one change set's parts, checking they belong together and none is
    missing; ``load_part`` gives each part's rows when the set is staged."""
    if not headers:
        raise InconsistentChangeSetError("no parts")
    first = headers[0]
    numbers = sorted(h.part for h in headers)
    if numbers != list(range(1, first.parts + 1)):
        raise InconsistentChangeSetError(f"parts {numbers} do not make 1..{first.parts}")
    for h in headers:
        same = (
            h.kind == first.kind
            and h.change_set_id == first.change_set_id
            and h.parts == first.parts
            and h.snapshot == first.snapshot
            and h.observed_at == first.observed_at
            and h.source == first.source
        )
        if not same:
            raise InconsistentChangeSetError(
                f"part {h.part} disagrees with part {first.part} of change set "
                f"{first.change_set_id} (type, parts, snapshot, observed_at or source)"
            )
    ordered = sorted(headers, key=lambda h: h.part)
    return ChangeSet(
        kind=first.kind,
        change_set_id=first.change_set_id,
        source=first.source,
        snapshot=first.snapshot,
        observed_at=first.observed_at,
        occurred_at=min(h.occurred_at for h in headers),
        parts=first.parts,
        size=sum(h.size for h in headers),
        load_part=load_part,
        kept_ids=tuple(k for h in ordered for k in h.kept_ids),
        unidentified_records=sum(h.unidentified_records for h in ordered),
    )


def merge_parts(parts: Sequence[Part | ChangeSetPart]) -> ChangeSet:
    """Merge parts held in memory (a single-part set, tests): :func:`merge_headers` over them."""
    items = [p if isinstance(p, Part) else part_from_model(p) for p in parts]
    by_number = {p.header.part: p for p in items}

    async def load(number: int) -> Part:
        return by_number[number]

    return merge_headers([p.header for p in items], load)

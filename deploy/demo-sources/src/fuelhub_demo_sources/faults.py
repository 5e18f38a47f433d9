"""Faults the upstreams can be told to show: error statuses, malformed records, broken bodies.

Pure functions over records and bytes; the service decides when a fault applies.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from .render import RawToken, Record, dumps, join_array

Endpoint = Literal["stations", "prices"]
ENDPOINTS: tuple[Endpoint, ...] = ("stations", "prices")


class MalformedKind(StrEnum):
    """Ways a single record can be wrong. Each kind changes exactly what its name says."""

    MISSING_ID = "missing_id"  # no "id" key
    WRONG_ID_TYPE = "wrong_id_type"  # "id": "st-123"
    WRONG_TYPES = "wrong_types"  # stations: number/services/image_urls of the wrong type;
    # prices: fuel_prices is an object instead of an array
    DUPLICATE_ID = "duplicate_id"  # the id of another record in the same body
    HUGE_STRING = "huge_string"  # address / fuel name of `huge_string_length` characters
    ODD_UNICODE = "odd_unicode"  # RTL override, zero-width, NUL, combining marks, BOM, emoji
    # Stations only.
    NULL_COORDINATES = "null_coordinates"  # "coordinates": null
    OUT_OF_RANGE_COORDINATES = "out_of_range_coordinates"  # lat 91..180 off, lon beyond ±180
    SWAPPED_COORDINATES = "swapped_coordinates"  # [lon, lat]; detectable only where |lon| > 90
    NAN_COORDINATES = "nan_coordinates"  # [NaN, Infinity] as raw tokens (not valid strict JSON)
    # Prices only (applied to the first fuel of the list).
    NULL_PRICE = "null_price"  # "price": null
    NEGATIVE_PRICE = "negative_price"  # "price": -<price>
    ZERO_PRICE = "zero_price"  # "price": 0
    NON_NUMERIC_PRICE = "non_numeric_price"  # "price": "54,90 руб."
    NAN_PRICE = "nan_price"  # "price": NaN as a raw token (not valid strict JSON)
    UNKNOWN_CURRENCY = "unknown_currency"  # "currency": "QQQ" (well-formed, not ISO 4217)
    MALFORMED_CURRENCY = "malformed_currency"  # "currency": "руб."


_COMMON = (
    MalformedKind.MISSING_ID,
    MalformedKind.WRONG_ID_TYPE,
    MalformedKind.WRONG_TYPES,
    MalformedKind.DUPLICATE_ID,
    MalformedKind.HUGE_STRING,
    MalformedKind.ODD_UNICODE,
)
KINDS_FOR: dict[Endpoint, tuple[MalformedKind, ...]] = {
    "stations": (
        *_COMMON,
        MalformedKind.NULL_COORDINATES,
        MalformedKind.OUT_OF_RANGE_COORDINATES,
        MalformedKind.SWAPPED_COORDINATES,
        MalformedKind.NAN_COORDINATES,
    ),
    "prices": (
        *_COMMON,
        MalformedKind.NULL_PRICE,
        MalformedKind.NEGATIVE_PRICE,
        MalformedKind.ZERO_PRICE,
        MalformedKind.NON_NUMERIC_PRICE,
        MalformedKind.NAN_PRICE,
        MalformedKind.UNKNOWN_CURRENCY,
        MalformedKind.MALFORMED_CURRENCY,
    ),
}

ODD_UNICODE_TEXT = "\u202eАЗС\u200b №\u00a07\u0000 Cafe\u0301 \ufeff⛽ 𝔄𝔃𝔰"


class BodyKind(StrEnum):
    """Ways a whole response body can be wrong."""

    NOT_JSON = "not_json"  # an HTML error page, status 200
    OBJECT = "object"  # {"status": "ok", "items": [...]} instead of an array
    EMPTY = "empty"  # []
    TRUNCATED = "truncated"  # a valid array missing a share `drop` of the records
    HUGE = "huge"  # a valid array of `size_mb` MB, streamed, never held in memory
    CUT = "cut"  # the full body announced, the connection closed half-way through


@dataclass(slots=True)
class ErrorFault:
    """Answer with ``status`` instead of data: the next ``count`` responses, or at ``rate``."""

    status: int
    count: int | None = None
    rate: float = 1.0
    retry_after: int | None = None


@dataclass(slots=True)
class MalformedFault:
    """Corrupt ``count`` records, or a ``fraction`` of them, cycling through ``kinds``."""

    kinds: tuple[MalformedKind, ...]
    count: int | None = None
    fraction: float | None = None
    times: int | None = None  # responses left to corrupt; None: until cleared
    huge_string_length: int = 100_000


@dataclass(slots=True)
class BodyFault:
    kind: BodyKind
    drop: float = 0.5
    size_mb: float = 200.0
    declare_length: bool = False
    times: int | None = None


@dataclass(slots=True)
class ServedFaults:
    """What faults one response carried, for tests to check against."""

    body: BodyKind | None = None
    dropped: int = 0
    malformed: list[tuple[int, MalformedKind]] = field(default_factory=list)

    def header(self) -> str:
        parts = [f"body={self.body.value}"] if self.body else []
        if self.dropped:
            parts.append(f"dropped={self.dropped}")
        if self.malformed:
            parts.append(f"malformed={len(self.malformed)}")
        return ";".join(parts)


def pick(n: int, rng: random.Random, *, count: int | None, fraction: float | None) -> list[int]:
    """Indices (sorted) of ``count`` or ``round(fraction * n)`` of ``n`` records."""
    k = count if count is not None else round((fraction or 0.0) * n)
    return sorted(rng.sample(range(n), max(0, min(k, n))))


def drop_share(
    ids: list[int], pieces: list[bytes], share: float, rng: random.Random
) -> tuple[list[int], list[bytes], int]:
    """The body without a random ``share`` of its records (order kept), and how many went."""
    gone = set(pick(len(ids), rng, count=None, fraction=share))
    keep = [i for i in range(len(ids)) if i not in gone]
    return [ids[i] for i in keep], [pieces[i] for i in keep], len(gone)


def corrupt_pieces(
    ids: list[int],
    pieces: list[bytes],
    load: Callable[[int], Record],
    fault: MalformedFault,
    rng: random.Random,
) -> tuple[list[bytes], list[tuple[int, MalformedKind]]]:
    """``pieces`` with some records corrupted, and ``(original id, kind)`` of each one.

    Only the chosen records are turned back into dicts (by ``load``), so corrupting a few
    records of a 100,000-record body stays cheap.
    """
    chosen = pick(len(ids), rng, count=fault.count, fraction=fault.fraction)
    out = list(pieces)
    report: list[tuple[int, MalformedKind]] = []
    for n, index in enumerate(chosen):
        kind = fault.kinds[n % len(fault.kinds)]
        neighbour = ids[index - 1] if index > 0 else ids[min(1, len(ids) - 1)]
        bad = corrupt(
            load(ids[index]), kind, other_id=neighbour, huge_length=fault.huge_string_length
        )
        out[index] = dumps(bad)
        report.append((ids[index], kind))
    return out, report


def corrupt(record: Record, kind: MalformedKind, *, other_id: object, huge_length: int) -> Record:
    """A corrupted deep copy of one station or price record."""
    bad = copy.deepcopy(record)
    is_station = "coordinates" in bad
    text_field = "address"
    if kind is MalformedKind.MISSING_ID:
        del bad["id"]
    elif kind is MalformedKind.WRONG_ID_TYPE:
        bad["id"] = f"st-{bad['id']}"
    elif kind is MalformedKind.DUPLICATE_ID:
        bad["id"] = other_id
    elif kind is MalformedKind.WRONG_TYPES and is_station:
        bad["number"] = f"{bad['number']}a"
        bad["additional_services"] = ", ".join(bad["additional_services"]) or "Мойка"
        bad["image_urls"] = None
    elif kind is MalformedKind.WRONG_TYPES:
        bad["fuel_prices"] = {p["name"]: p["price"] for p in bad["fuel_prices"]}
    elif kind in (MalformedKind.HUGE_STRING, MalformedKind.ODD_UNICODE):
        if is_station:
            text = bad[text_field] or ""
        else:
            _ensure_fuel(bad)
            text = bad["fuel_prices"][0]["name"]
        if kind is MalformedKind.HUGE_STRING:
            text = (text + " · ") * (huge_length // (len(text) + 3) + 1)
            text = text[:huge_length]
        else:
            text = ODD_UNICODE_TEXT + text
        if is_station:
            bad[text_field] = text
        else:
            bad["fuel_prices"][0]["name"] = text
    elif is_station:
        bad["coordinates"] = _bad_coordinates(kind, bad["coordinates"])
    else:
        _ensure_fuel(bad)
        _corrupt_price(kind, bad["fuel_prices"][0])
    return bad


def _bad_coordinates(kind: MalformedKind, coordinates: list[float]) -> object:
    lat, lon = coordinates
    if kind is MalformedKind.NULL_COORDINATES:
        return None
    if kind is MalformedKind.OUT_OF_RANGE_COORDINATES:
        return [lat + (180.0 if lat < 0 else 91.0), lon + (360.0 if lon < 0 else 181.0)]
    if kind is MalformedKind.SWAPPED_COORDINATES:
        return [lon, lat]
    if kind is MalformedKind.NAN_COORDINATES:
        return [RawToken("NaN"), RawToken("Infinity")]
    raise ValueError(f"{kind} does not apply to a station")


def _ensure_fuel(record: Record) -> None:
    if not record["fuel_prices"]:
        record["fuel_prices"] = [{"name": "АИ-95", "price": 55, "currency": "RUB"}]


def _corrupt_price(kind: MalformedKind, item: Record) -> None:
    price = item["price"]
    if kind is MalformedKind.NULL_PRICE:
        item["price"] = None
    elif kind is MalformedKind.NEGATIVE_PRICE:
        item["price"] = -abs(price) if isinstance(price, Decimal) and price else Decimal(-1)
    elif kind is MalformedKind.ZERO_PRICE:
        item["price"] = 0
    elif kind is MalformedKind.NON_NUMERIC_PRICE:
        item["price"] = "54,90 руб."
    elif kind is MalformedKind.NAN_PRICE:
        item["price"] = RawToken("NaN")
    elif kind is MalformedKind.UNKNOWN_CURRENCY:
        item["currency"] = "QQQ"
    elif kind is MalformedKind.MALFORMED_CURRENCY:
        item["currency"] = "руб."
    else:
        raise ValueError(f"{kind} does not apply to a price list")


NOT_JSON_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def object_body(pieces: list[bytes]) -> bytes:
    return b'{"status":"ok","items":' + join_array(pieces) + b"}"


@dataclass(frozen=True, slots=True)
class HugeBody:
    """A valid JSON array of at least ``size_bytes`` bytes, made chunk by chunk as it is sent.

    Copies of ``template`` with increasing ids, so only a size cap can tell it from a real body.
    Every record has the same length (ids have ten digits), so the exact length is known without
    producing the body.
    """

    template: Record
    size_bytes: int
    chunk_bytes: int = 1 << 16

    def _rest(self) -> bytes:
        return dumps({k: v for k, v in self.template.items() if k != "id"} or {"x": 0})[1:]

    def _count(self) -> int:
        # Records needed so that "[" + records reaches size_bytes; every one costs the same.
        record = len(b',{"id":1000000000,' + self._rest())
        return max(0, -(-(self.size_bytes - 1) // record))

    def __len__(self) -> int:
        count = self._count()
        return 2 + count * len(b',{"id":1000000000,' + self._rest()) - (1 if count else 0)

    def __iter__(self) -> Iterator[bytes]:
        rest = self._rest()
        per_chunk = max(1, self.chunk_bytes // (len(rest) + 18))
        first_id, count = 1_000_000_000, self._count()
        yield b"["
        for start in range(0, count, per_chunk):
            ids = range(first_id + start, first_id + min(count, start + per_chunk))
            chunk = b",".join(b'{"id":%d,' % i + rest for i in ids)
            yield chunk if start == 0 else b"," + chunk
        yield b"]"

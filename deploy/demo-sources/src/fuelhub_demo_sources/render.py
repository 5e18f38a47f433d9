"""Records in the exact contract shapes, and their JSON bytes. No I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson

from .model import FuelPrice, PriceList, Station

Record = dict[str, Any]
T = TypeVar("T")


def station_record(station_id: int, station: Station) -> Record:
    """A Source 1 record: ``{id, coordinates: [lat, lon], number, address, image_urls,
    additional_services}``."""
    return {
        "id": station_id,
        "coordinates": [station.lat, station.lon],
        "number": station.number,
        "address": station.address,
        "image_urls": list(station.image_urls),
        "additional_services": list(station.services),
    }


def price_record(station_id: int, prices: PriceList) -> Record:
    """A Source 2 record: ``{id, fuel_prices: [{name, price, currency}]}``."""
    return {"id": station_id, "fuel_prices": [fuel_price_item(p) for p in prices]}


def fuel_price_item(price: FuelPrice) -> Record:
    return {"name": price.name, "price": price.price, "currency": price.currency}


class RawToken:
    """Text written into the JSON as is, e.g. ``NaN``, which no JSON encoder will produce."""

    # Deliberately not a dataclass: orjson would serialise a dataclass as an object.
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawToken({self.text!r})"


def decimal_text(value: Decimal) -> str:
    """A decimal's exact digits as a JSON number (``54.9``, ``100``), never via a float, so a
    price can never render as ``54.900000000001``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _default(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(decimal_text(value).encode())
    if isinstance(value, RawToken):
        return orjson.Fragment(value.text.encode())
    raise TypeError(f"cannot render {type(value).__name__}")


def dumps(value: object) -> bytes:
    """JSON bytes of ``value``; decimals exact, :class:`RawToken` verbatim."""
    return orjson.dumps(value, default=_default)


def render_array(records: Iterable[Record]) -> bytes:
    """A JSON array of ``records``, without materialising one big list of dicts."""
    return b"[" + b",".join(dumps(r) for r in records) + b"]"


class PieceCache(Generic[T]):
    """Each record's JSON bytes, kept so a change re-renders one record, not 100,000.

    The body lists records by ascending id, so the same data always gives the same bytes (and
    the same ETag) whatever order the changes came in.
    """

    def __init__(self, to_record: Callable[[int, T], Record]) -> None:
        self._to_record = to_record
        self._pieces: dict[int, bytes] | None = None
        self._order: list[int] = []

    def refresh(self, source: Mapping[int, T], dirty: set[int]) -> None:
        """Bring the pieces up to date with ``source``, given the ids changed since last time."""
        if self._pieces is None:
            self._pieces = {i: self._render(i, v) for i, v in source.items()}
        else:
            for i in dirty:
                value = source.get(i)
                if value is None:
                    self._pieces.pop(i, None)
                else:
                    self._pieces[i] = self._render(i, value)
        if dirty or not self._order:
            self._order = sorted(self._pieces)
        dirty.clear()

    def _render(self, station_id: int, value: T) -> bytes:
        # orjson returns bytes inside a ~4 KiB allocation; kept 100,000 times that is 400 MB.
        # A copy of exactly the right size keeps the cache at the size of the body.
        return memoryview(dumps(self._to_record(station_id, value))).tobytes()

    @property
    def ids(self) -> list[int]:
        """The ids in body order (ascending)."""
        return self._order

    def pieces(self) -> list[bytes]:
        assert self._pieces is not None, "refresh() first"
        pieces = self._pieces
        return [pieces[i] for i in self._order]


def join_array(pieces: Iterable[bytes]) -> bytes:
    return b"[" + b",".join(pieces) + b"]"


def etag_of(body: bytes) -> str:
    """A strong validator derived from the body: same bytes, same ETag, even across restarts."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'

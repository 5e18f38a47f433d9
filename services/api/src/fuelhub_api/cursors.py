"""Opaque cursors: the delta-sync position and the keyset position of a list.

Clients must treat both as opaque strings; their text is kept readable for debugging only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from fuelhub_api.errors import ParamError

_MAX_BIGINT = 2**63 - 1
_SYNC = re.compile(r"([0-9]{1,19})(?:\.([0-9]{1,19}))?")
_INT = re.compile(r"-?[0-9]{1,19}")
_PRICE = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,12})?")
_FLOAT = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")


class CursorError(ValueError):
    """A cursor that this API did not produce (or from an incompatible query)."""


@dataclass(frozen=True, order=True)
class SyncCursor:
    """A position in the store's commit-ordered applied-change feed.

    ``seq`` alone means "every change up to and including ``seq``". With ``station_id`` it is
    the middle of a delta-sync walk: changes at ``seq`` for stations up to that id are done.
    """

    seq: int
    station_id: int = 0

    def text(self) -> str:
        return str(self.seq) if self.station_id == 0 else f"{self.seq}.{self.station_id}"

    def after_seq(self) -> int:
        """The seq whose later changes a stream resuming here must send (never skips)."""
        return self.seq if self.station_id == 0 else self.seq - 1


def parse_sync_cursor(raw: str) -> SyncCursor:
    match = _SYNC.fullmatch(raw)
    if match is None:
        raise ParamError("since must be a sync cursor returned by this API (field `sync`)")
    seq, station = int(match[1]), int(match[2] or 0)
    if seq > _MAX_BIGINT or station > _MAX_BIGINT:
        raise ParamError("since is out of range: use a sync cursor returned by this API")
    return SyncCursor(seq, station)


@dataclass(frozen=True)
class Keyset:
    """The sort key of the last row of a page; the next page starts after it."""

    sort: str
    station_id: int
    number: int | None = None
    currency: str | None = None
    price: Decimal | None = None
    distance: float | None = None

    def text(self) -> str:
        if self.sort == "number":
            return f"number:{self.number}:{self.station_id}"
        if self.sort == "price":
            return f"price:{self.currency}:{self.price}:{self.station_id}"
        if self.sort == "distance":
            return f"distance:{self.distance!r}:{self.station_id}"
        return f"id:{self.station_id}"


def _station(raw: str) -> int:
    if not _INT.fullmatch(raw) or not 0 <= int(raw) <= _MAX_BIGINT:
        raise CursorError(raw)
    return int(raw)


def parse_keyset(raw: str, sort: str) -> Keyset:
    """Parse ``after=``; it must come from a page with the same ``sort``."""
    parts = raw.split(":")
    try:
        if parts[0] != sort:
            raise CursorError(raw)
        if sort == "id" and len(parts) == 2:
            return Keyset(sort, _station(parts[1]))
        if sort == "number" and len(parts) == 3 and _INT.fullmatch(parts[1]):
            return Keyset(sort, _station(parts[2]), number=int(parts[1]))
        if sort == "price" and len(parts) == 4:
            if not _CURRENCY.fullmatch(parts[1]) or not _PRICE.fullmatch(parts[2]):
                raise CursorError(raw)
            return Keyset(sort, _station(parts[3]), currency=parts[1], price=Decimal(parts[2]))
        if sort == "distance" and len(parts) == 3 and _FLOAT.fullmatch(parts[1]):
            distance = float(parts[1])
            if not math.isfinite(distance):
                raise CursorError(raw)
            return Keyset(sort, _station(parts[2]), distance=distance)
    except (CursorError, InvalidOperation, ValueError):
        pass
    raise ParamError(
        f"after must be the `next` position of a page with the same sort ({sort}); "
        "follow the `next` link instead of building it"
    )

"""Query-parameter parsing: plain functions from raw strings to typed values.

Every refusal is a :class:`ParamError` with a message a client developer can act on; the HTTP
layer turns it into ``400``. Nothing here touches the database or the framework.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fuelhub_api.cursors import Keyset, SyncCursor, parse_keyset, parse_sync_cursor
from fuelhub_api.errors import ParamError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Any offset this large is past the end of any table; clamping keeps it inside bigint.
MAX_OFFSET = 2**62
MAX_STATION_ID = 2**63 - 1
MAX_NAME_LENGTH = 500
MAX_SERVICES = 20
DEFAULT_RADIUS_KM = 10.0
MAX_RADIUS_KM = 1000.0

_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CURRENCY = re.compile(r"[A-Z]{3}")

Sort = Literal["id", "price", "distance", "number"]
SORTS: tuple[Sort, ...] = ("id", "price", "distance", "number")


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class BBox:
    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float


@dataclass(frozen=True)
class Page:
    """v1's offset pagination."""

    limit: int
    offset: int


@dataclass(frozen=True)
class StationFilter:
    """v2's list query: filters, sort, keyset position and delta-sync position."""

    limit: int = DEFAULT_LIMIT
    fuel: str | None = None
    services: tuple[str, ...] = ()
    bbox: BBox | None = None
    near: Point | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    currency: str | None = None
    sort: Sort = "id"
    after: Keyset | None = None
    since: SyncCursor | None = None
    updated_since: datetime | None = None


def parse_limit(raw: str | None) -> int:
    """``limit`` as the seed's paginator reads it: default 100, above 1000 clamped to 1000."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if _SIGNED.fullmatch(raw) and raw.startswith("-") and raw.strip("-0"):
        raise ParamError(f"limit must not be negative (got {raw[:40]!r}); use 1 to {MAX_LIMIT}")
    if not _UNSIGNED.fullmatch(raw.lstrip("+")) or not raw.lstrip("+"):
        raise ParamError(f"limit must be an integer from 1 to {MAX_LIMIT} (got {raw[:40]!r})")
    digits = raw.lstrip("+")
    if len(digits) > 9:  # huge values only need clamping; no need to parse them
        return MAX_LIMIT
    value = int(digits)
    if value == 0:  # the seed's paginator treats 0 as "not given"
        return DEFAULT_LIMIT
    return min(value, MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    """``offset``: a non-negative integer; values past the end give an empty page."""
    if raw is None or raw == "":
        return 0
    digits = raw.lstrip("+")
    if _SIGNED.fullmatch(raw) and raw.startswith("-") and raw.strip("-0"):
        raise ParamError(f"offset must not be negative (got {raw[:40]!r})")
    if not digits or not _UNSIGNED.fullmatch(digits):
        raise ParamError(f"offset must be a non-negative integer (got {raw[:40]!r})")
    if len(digits) > 18:
        return MAX_OFFSET
    return min(int(digits), MAX_OFFSET)


def parse_page(limit: str | None, offset: str | None) -> Page:
    return Page(limit=parse_limit(limit), offset=parse_offset(offset))


def _finite(raw: str, name: str) -> float:
    if len(raw) > 40 or not _DECIMAL.fullmatch(raw):
        raise ParamError(f"{name} must be a decimal number (got {raw[:40]!r})")
    value = float(raw)
    if not math.isfinite(value):
        raise ParamError(f"{name} must be a finite number (got {raw[:40]!r})")
    return value


def _latlon(lat: float, lon: float, name: str) -> None:
    if not -90.0 <= lat <= 90.0:
        raise ParamError(f"{name}: latitude must be between -90 and 90 (got {lat})")
    if not -180.0 <= lon <= 180.0:
        raise ParamError(f"{name}: longitude must be between -180 and 180 (got {lon})")


def _numbers(raw: str, name: str, count: int, shape: str) -> list[float]:
    parts = raw.split(",")
    if len(parts) != count:
        raise ParamError(f"{name} must be {shape} ({count} comma-separated numbers)")
    return [_finite(p.strip(), name) for p in parts]


def parse_bbox(raw: str) -> BBox:
    """``bbox=minLat,minLon,maxLat,maxLon``."""
    min_lat, min_lon, max_lat, max_lon = _numbers(raw, "bbox", 4, "minLat,minLon,maxLat,maxLon")
    _latlon(min_lat, min_lon, "bbox")
    _latlon(max_lat, max_lon, "bbox")
    if min_lat > max_lat:
        raise ParamError("bbox: minLat must not be greater than maxLat")
    if min_lon > max_lon:
        raise ParamError(
            "bbox: minLon must not be greater than maxLon (boxes across ±180° are not supported)"
        )
    return BBox(min_lat, min_lon, max_lat, max_lon)


def parse_point(raw: str, name: str = "near") -> Point:
    """``near=lat,lon``."""
    lat, lon = _numbers(raw, name, 2, "lat,lon")
    _latlon(lat, lon, name)
    return Point(lat, lon)


def parse_radius(raw: str) -> float:
    value = _finite(raw, "radius_km")
    if not 0 < value <= MAX_RADIUS_KM:
        raise ParamError(f"radius_km must be greater than 0 and at most {MAX_RADIUS_KM:g}")
    return value


def parse_name_or_id(raw: str, name: str) -> str:
    """A fuel type or service, by id or name; resolved against the catalog later."""
    value = raw.strip()
    if not value:
        raise ParamError(f"{name} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ParamError(f"{name} is too long (at most {MAX_NAME_LENGTH} characters)")
    if "\x00" in value:
        raise ParamError(f"{name} must not contain NUL characters")
    return value


def parse_currency(raw: str) -> str:
    if not _CURRENCY.fullmatch(raw):
        raise ParamError(f"currency must be an ISO 4217 code such as RUB (got {raw[:40]!r})")
    return raw


def parse_sort(raw: str) -> Sort:
    for sort in SORTS:
        if raw == sort:
            return sort
    raise ParamError(f"sort must be one of {', '.join(SORTS)} (got {raw[:40]!r})")


def parse_time(raw: str, name: str) -> datetime:
    """An RFC 3339 timestamp with an offset, e.g. ``2026-01-31T12:00:00Z``."""
    if len(raw) > 40:
        raise ParamError(f"{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ParamError(
            f"{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z (got {raw!r})"
        ) from None
    if value.tzinfo is None:
        raise ParamError(f"{name} must carry a UTC offset, e.g. 2026-01-31T12:00:00Z")
    return value


def parse_station_id(raw: str) -> int:
    if len(raw) > 19 or not _UNSIGNED.fullmatch(raw) or not 1 <= int(raw) <= MAX_STATION_ID:
        raise ParamError(f"station id must be a positive integer (got {raw[:40]!r})")
    return int(raw)


def parse_station_filter(single: dict[str, str], services: list[str]) -> StationFilter:
    """Build and cross-check v2's list query from the last value of each parameter."""
    get = single.get
    limit = parse_limit(get("limit"))
    fuel = parse_name_or_id(get("fuel", ""), "fuel") if "fuel" in single else None
    if len(services) > MAX_SERVICES:
        raise ParamError(f"at most {MAX_SERVICES} service= values")
    service_list = tuple(parse_name_or_id(s, "service") for s in services)
    bbox = parse_bbox(single["bbox"]) if "bbox" in single else None
    near = parse_point(single["near"]) if "near" in single else None
    if "radius_km" in single and near is None:
        raise ParamError("radius_km needs near=lat,lon")
    radius = parse_radius(single["radius_km"]) if "radius_km" in single else DEFAULT_RADIUS_KM
    currency = parse_currency(single["currency"]) if "currency" in single else None
    sort = parse_sort(single["sort"]) if "sort" in single else "id"
    if sort == "price" and fuel is None:
        raise ParamError("sort=price needs fuel= (prices are compared for one fuel type)")
    if currency is not None and fuel is None:
        raise ParamError("currency= needs fuel= (it selects the price currency of that fuel)")
    if sort == "distance" and near is None:
        raise ParamError("sort=distance needs near=lat,lon")
    after = parse_keyset(single["after"], sort) if "after" in single else None
    since = parse_sync_cursor(single["since"]) if "since" in single else None
    updated_since = (
        parse_time(single["updated_since"], "updated_since") if "updated_since" in single else None
    )
    if since is not None:
        others = [
            n
            for n in (
                "fuel",
                "bbox",
                "near",
                "radius_km",
                "currency",
                "sort",
                "after",
                "updated_since",
            )
            if n in single
        ] + (["service"] if services else [])
        if others:
            raise ParamError(
                "since= returns every change after the cursor and cannot be combined with "
                + ", ".join(others)
            )
    return StationFilter(
        limit=limit,
        fuel=fuel,
        services=service_list,
        bbox=bbox,
        near=near,
        radius_km=radius,
        currency=currency,
        sort=sort,
        after=after,
        since=since,
        updated_since=updated_since,
    )

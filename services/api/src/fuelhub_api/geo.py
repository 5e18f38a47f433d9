"""Bounding boxes for a radius search on the read model's ``point(longitude, latitude)`` index.

The index is a plain GiST over points in degrees (cheap to maintain). A radius query first
narrows to the rows inside the boxes that bound the spherical cap, then checks the exact
great-circle distance (haversine on earthdistance's radius: what ``earth_distance`` measures, see
``fuelhub_api.queries``) on those candidates only. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

# earthdistance's earth() radius, so the boxes bound exactly what earth_distance() measures.
EARTH_RADIUS_M: Final = 6_378_168.0
# Slack for float rounding at the boxes' edges (≈ 1 mm): a box may be a hair too big, never small.
_SLACK_DEG: Final = 1e-8


class Box(NamedTuple):
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def cap_boxes(lat: float, lon: float, radius_m: float) -> tuple[Box, Box]:
    """Two boxes whose union holds every point within ``radius_m`` of (``lat``, ``lon``).

    Usually both are the same box; a cap across the ±180° meridian is split in two, and a cap
    that reaches a pole spans every longitude. Always two, so the SQL has one fixed shape.
    (Bounds after J. P. Matuschek, "Finding Points Within a Distance of a Latitude/Longitude
    Using Bounding Coordinates".)
    """
    angular = radius_m / EARTH_RADIUS_M
    min_lat = lat - math.degrees(angular)
    max_lat = lat + math.degrees(angular)
    if min_lat <= -90.0 or max_lat >= 90.0 or angular >= math.pi / 2:
        whole = Box(-180.0, max(min_lat, -90.0), 180.0, min(max_lat, 90.0))
        return whole, whole
    ratio = math.sin(angular) / math.cos(math.radians(lat))
    if ratio >= 1.0:
        whole = Box(-180.0, min_lat, 180.0, max_lat)
        return whole, whole
    delta_lon = math.degrees(math.asin(ratio)) + _SLACK_DEG
    min_lat -= _SLACK_DEG
    max_lat += _SLACK_DEG
    west, east = lon - delta_lon, lon + delta_lon
    if west < -180.0:
        return Box(west + 360.0, min_lat, 180.0, max_lat), Box(-180.0, min_lat, east, max_lat)
    if east > 180.0:
        return Box(west, min_lat, 180.0, max_lat), Box(-180.0, min_lat, east - 360.0, max_lat)
    box = Box(west, min_lat, east, max_lat)
    return box, box

"""The radius prefilter's boxes must hold every point of the cap (or a search would miss it)."""

from __future__ import annotations

import math

from fuelhub_api.geo import EARTH_RADIUS_M, Box, cap_boxes
from hypothesis import given, settings
from hypothesis import strategies as st


def _destination(lat: float, lon: float, bearing: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lat, lon) along ``bearing`` on the sphere (degrees)."""
    d = distance_m / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return math.degrees(p2), lon2


def _inside(box: Box, lat: float, lon: float) -> bool:
    return box.min_lat <= lat <= box.max_lat and box.min_lon <= lon <= box.max_lon


@settings(max_examples=3000, deadline=None)
@given(
    lat=st.floats(-89.9, 89.9),
    lon=st.floats(-180.0, 180.0),
    radius_km=st.floats(0.001, 1000.0),
    bearing=st.floats(0.0, 360.0),
    share=st.floats(0.0, 0.999_999),
)
def test_every_point_of_the_cap_is_in_a_box(
    lat: float, lon: float, radius_km: float, bearing: float, share: float
) -> None:
    radius_m = radius_km * 1000.0
    plat, plon = _destination(lat, lon, bearing, radius_m * share)
    first, second = cap_boxes(lat, lon, radius_m)
    assert _inside(first, plat, plon) or _inside(second, plat, plon)


def test_boxes_are_tight_away_from_poles_and_the_antimeridian() -> None:
    first, second = cap_boxes(55.75, 37.62, 10_000.0)
    assert first == second
    # 10 km is about 0.09° of latitude and 0.16° of longitude at Moscow's latitude.
    assert math.isclose(first.max_lat - 55.75, 0.0898, rel_tol=0.01)
    assert math.isclose(first.max_lon - 37.62, 0.1597, rel_tol=0.01)


def test_a_cap_across_the_antimeridian_is_split() -> None:
    first, second = cap_boxes(65.0, 179.95, 20_000.0)
    assert first.max_lon == 180.0
    assert first.min_lon > 179.0
    assert second.min_lon == -180.0
    assert -179.8 < second.max_lon < -179.0


def test_a_cap_over_a_pole_spans_every_longitude() -> None:
    first, _ = cap_boxes(89.95, 10.0, 20_000.0)
    assert (first.min_lon, first.max_lon, first.max_lat) == (-180.0, 180.0, 90.0)

"""SQL for the v2 station list, built from fixed fragments (never from client text: every
client value is a bound parameter). One indexed query per page; see docs/api.md for the plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fuelhub_api.geo import EARTH_RADIUS_M, Box, cap_boxes
from fuelhub_api.params import StationFilter

# The great-circle distance in metres by the haversine formula, on earthdistance's earth()
# radius: what earth_distance(ll_to_earth(…), ll_to_earth(…)) measures (the two agree within
# 5e-9 m over the whole read model), at a sixth of its cost (≈ 1 µs a row instead of ≈ 6 µs of
# cube functions), which is most of a radius search over a city's thousands of stations.
# least() keeps rounding from taking asin() out of its domain for antipodal points.
_DISTANCE = (
    f"(2 * {EARTH_RADIUS_M} * asin(least(1.0, sqrt("
    "sin(radians(d.latitude - %(near_lat)s) / 2) ^ 2 + cos(radians(%(near_lat)s))"
    " * cos(radians(d.latitude)) * sin(radians(d.longitude - %(near_lon)s) / 2) ^ 2))))"
)
# The read model's GiST (store migration 0003) is on exactly this expression.
_POINT = "point(d.longitude, d.latitude)"
_TOMBSTONE = """'{"id":' || d.station_id || ',"deleted":true}'"""


@dataclass(frozen=True)
class ResolvedFilter:
    """A list query whose fuel and service names have been resolved to ids."""

    filter: StationFilter
    fuel_id: int | None
    service_ids: tuple[int, ...]


def _inside_box(name: str, box: Box, params: dict[str, Any]) -> str:
    """``point(lon, lat) <@ box`` on the read model's GiST; corners bound as ``name_*``."""
    params.update({f"{name}_{k}": v for k, v in box._asdict().items()})
    return (
        f"{_POINT} <@ box(point(%({name}_min_lon)s, %({name}_min_lat)s),"
        f" point(%({name}_max_lon)s, %({name}_max_lat)s))"
    )


def _where(q: ResolvedFilter, params: dict[str, Any]) -> tuple[list[str], str]:
    f = q.filter
    where: list[str] = []
    join = ""
    if f.updated_since is None:
        where.append("NOT d.deleted")
    else:
        # Approximate sync: tombstones are included so a client learns of removals too.
        where.append("d.updated_at > %(updated_since)s")
        params["updated_since"] = f.updated_since
    if q.fuel_id is not None:
        params["fuel_id"] = q.fuel_id
        if f.sort == "price" or f.currency is not None:
            # The station's current price of the fuel: it has one exactly when the fuel is in
            # its fuel_type_ids (the store writes both in one transaction), so that filter would
            # only add a lookup of the fuels part per candidate (store migration 0007).
            join = (
                " JOIN store.current_prices cp ON cp.station_id = d.station_id"
                " AND cp.fuel_type_id = %(fuel_id)s"
            )
            if f.currency is not None:
                join += " AND cp.currency = %(currency)s"
                params["currency"] = f.currency
        else:
            where.append("d.fuel_type_ids @> ARRAY[%(fuel_id)s]::integer[]")
    if q.service_ids:
        where.append("d.service_ids @> %(service_ids)s::integer[]")
        params["service_ids"] = list(q.service_ids)
    if f.bbox is not None:
        b = f.bbox
        where.append(_inside_box("bbox", Box(b.min_lon, b.min_lat, b.max_lon, b.max_lat), params))
    if f.near is not None:
        radius_m = f.radius_km * 1000.0
        params.update(near_lat=f.near.lat, near_lon=f.near.lon, radius_m=radius_m)
        # The boxes bounding the cap use the point GiST; the exact distance trims their corners.
        first, second = cap_boxes(f.near.lat, f.near.lon, radius_m)
        where.append(
            f"({_inside_box('cap0', first, params)} OR {_inside_box('cap1', second, params)})"
        )
        where.append(_DISTANCE + " <= %(radius_m)s")
    return where, join


def station_list_sql(q: ResolvedFilter) -> tuple[str, dict[str, Any]]:
    """Rows ``(station_id, number, currency, price, distance_m, doc)``, one more than the limit."""
    f = q.filter
    params: dict[str, Any] = {"limit": f.limit + 1}
    where, join = _where(q, params)
    currency_col = "cp.currency" if join else "NULL::text"
    price_col = "cp.price" if join else "NULL::numeric"
    distance_col = _DISTANCE if f.near is not None else "NULL::double precision"
    # Documents are read (and distances spliced in) only for the page's rows, after the
    # keys have been sorted and limited in the inner query.
    doc = "d.doc_v2"
    if f.near is not None:
        doc = (
            "left(d.doc_v2, -1) || ',\"distance_km\":' || "
            "round((k.distance_m / 1000.0)::numeric, 3)::text || '}'"
        )
    if f.updated_since is not None:
        doc = f"CASE WHEN d.deleted THEN {_TOMBSTONE} ELSE {doc} END"
    a = f.after
    if f.sort == "price":
        order, outer = "cp.currency, cp.price, d.station_id", "k.currency, k.price, k.station_id"
        if a is not None:
            where.append(
                "(cp.currency, cp.price, d.station_id) > (%(a_cur)s, %(a_price)s, %(a_id)s)"
            )
            params.update(a_cur=a.currency, a_price=a.price, a_id=a.station_id)
    elif f.sort == "distance":
        order, outer = "distance_m, d.station_id", "k.distance_m, k.station_id"
        if a is not None:
            where.append(f"({_DISTANCE}, d.station_id) > (%(a_dist)s, %(a_id)s)")
            params.update(a_dist=a.distance, a_id=a.station_id)
    elif f.sort == "number":
        order, outer = "d.number, d.station_id", "k.number, k.station_id"
        if a is not None:
            where.append("(d.number, d.station_id) > (%(a_num)s, %(a_id)s)")
            params.update(a_num=a.number, a_id=a.station_id)
    else:
        order, outer = "d.station_id", "k.station_id"
        if a is not None:
            where.append("d.station_id > %(a_id)s")
            params["a_id"] = a.station_id
    # Only constant fragments are joined here; client values are bound parameters.
    keys = (
        f"SELECT d.station_id, d.number, {currency_col} AS currency, {price_col} AS price,"  # noqa: S608
        f" {distance_col} AS distance_m FROM store.station_docs d{join}"
        f" WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %(limit)s"
    )
    sql = (
        "SELECT k.station_id, k.number, k.currency, k.price, k.distance_m,"  # noqa: S608
        f" {doc} AS doc FROM ({keys}) k JOIN store.station_docs d ON d.station_id = k.station_id"
        f" ORDER BY {outer}"
    )
    return sql, params


def station_count_sql(q: ResolvedFilter) -> tuple[str, dict[str, Any]]:
    """How many stations match the filters (the keyset position and limit aside)."""
    params: dict[str, Any] = {}
    where, join = _where(q, params)
    sql = f"SELECT count(*) FROM store.station_docs d{join} WHERE {' AND '.join(where)}"  # noqa: S608
    return sql, params

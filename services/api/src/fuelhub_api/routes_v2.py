"""v2: search, delta sync, detail, catalog and price history (all under ``/api/v2``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from fuelhub_api.deps import (
    BBOX_SCHEMA,
    POINT_SCHEMA,
    SYNC_SCHEMA,
    ReaderClaims,
    ReadRequestDep,
    ServicesDep,
    conditional,
    openapi_params,
    query_param,
    query_single,
)
from fuelhub_api.params import (
    MAX_LIMIT,
    MAX_STATION_ID,
    parse_limit,
    parse_name_or_id,
    parse_station_filter,
    parse_time,
)
from fuelhub_api.responses import ERRORS
from fuelhub_api.schemas import CatalogList, Error, PriceHistory, StationDetail, StationPage

router = APIRouter(prefix="/api/v2", tags=["v2"])

StationIdPath = Annotated[int, Path(ge=1, le=MAX_STATION_ID, description="Station id.")]

_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)."}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "No such station."}
}
_LIMIT = query_param(
    "limit",
    {"type": "integer", "minimum": 0},
    f"Page size (default 100, values above {MAX_LIMIT} are clamped).",
    100,
)
_FUEL = query_param(
    "fuel",
    {"type": "string", "maxLength": 500},
    "Fuel type id or name (see /api/v2/fuel-types).",
    "АИ-95",
)


@router.get(
    "/fuel-stations",
    operation_id="v2_fuel_stations_list",
    summary="Search stations, or sync what changed",
    description=(
        "Filters combine (AND). `sort=price` needs `fuel` and orders by currency, then price "
        "(prices are only compared within one currency; add `currency=` to keep one). "
        "`sort=distance` needs `near`. Pages are keyset pages: follow `next`.\n\n"
        "**Delta sync**: every page carries `sync`. Later, `since=<sync>` returns exactly the "
        'stations that changed after it (removed ones as `{"id": …, "deleted": true}`), '
        "ordered by change, with a new `sync`; follow `next` until it is null. "
        "`updated_since=<RFC 3339>` is an approximate alternative for a first sync."
    ),
    response_model=None,
    responses={
        200: {"model": StationPage, "description": "A page of stations."},
        **_NOT_MODIFIED,
        410: {"model": Error, "description": "The sync cursor cannot be served: sync again."},
        **ERRORS,
    },
    openapi_extra=openapi_params(
        _LIMIT,
        _FUEL,
        query_param(
            "service",
            {"type": "string", "maxLength": 500},
            "Service id or name; repeat for stations offering all of them.",
            "Мойка",
            style="form",
            explode=True,
        ),
        query_param(
            "bbox",
            BBOX_SCHEMA,
            "minLat,minLon,maxLat,maxLon",
            "55.5,37.3,56.0,37.9",
        ),
        query_param("near", POINT_SCHEMA, "lat,lon (adds `distance_km`)", "55.75,37.62"),
        query_param(
            "radius_km",
            {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
            "Radius around `near` (default 10).",
            5,
        ),
        query_param(
            "currency",
            {"type": "string", "pattern": "^[A-Z]{3}$"},
            "With fuel: price currency.",
            "RUB",
        ),
        query_param(
            "sort",
            {"type": "string", "enum": ["id", "price", "distance", "number"]},
            "Order (default id).",
            "price",
        ),
        query_param("after", {"type": "string"}, "Keyset position from a `next` link."),
        query_param("since", SYNC_SCHEMA, "A `sync` cursor from an earlier response."),
        query_param(
            "updated_since",
            {"type": "string", "format": "date-time"},
            "Only stations changed after this time (tombstones included).",
            "2026-01-31T12:00:00Z",
        ),
    ),
)
async def list_stations(
    request: Request, _claims: ReaderClaims, services: ServicesDep, req: ReadRequestDep
) -> Response:
    f = parse_station_filter(query_single(request), request.query_params.getlist("service"))
    return conditional(request, await services.reader.v2_list(f, req))


@router.get(
    "/fuel-stations/{station_id}",
    operation_id="v2_fuel_station_detail",
    summary="One station",
    response_model=None,
    responses={
        200: {"model": StationDetail, "description": "The station."},
        **_NOT_MODIFIED,
        **_NOT_FOUND,
        **ERRORS,
    },
)
async def station_detail(
    station_id: StationIdPath,
    request: Request,
    _claims: ReaderClaims,
    services: ServicesDep,
    req: ReadRequestDep,
) -> Response:
    sid = station_id
    return conditional(request, await services.reader.station(sid, req))


@router.get(
    "/fuel-stations/{station_id}/price-history",
    operation_id="v2_fuel_station_price_history",
    summary="A station's price changes, oldest first",
    response_model=None,
    responses={
        200: {"model": PriceHistory, "description": "Price changes."},
        **_NOT_MODIFIED,
        **_NOT_FOUND,
        **ERRORS,
    },
    openapi_extra=openapi_params(
        _FUEL,
        query_param(
            "since",
            {"type": "string", "format": "date-time"},
            "Only changes observed at or after this time.",
            "2026-01-01T00:00:00Z",
        ),
        _LIMIT,
        query_param("after", {"type": "string"}, "Position from a `next` link."),
    ),
)
async def price_history(
    station_id: StationIdPath,
    request: Request,
    _claims: ReaderClaims,
    services: ServicesDep,
    req: ReadRequestDep,
) -> Response:
    sid = station_id
    q = query_single(request)
    fuel = parse_name_or_id(q["fuel"], "fuel") if "fuel" in q else None
    since = parse_time(q["since"], "since") if "since" in q else None
    body = await services.reader.price_history(
        sid,
        fuel=fuel,
        since=since,
        after=q.get("after"),
        limit=parse_limit(q.get("limit")),
        req=req,
    )
    return conditional(request, body)


def _catalog_route(table: str, path: str, summary: str) -> None:
    @router.get(
        path,
        operation_id=f"v2_{table}_list",
        summary=summary,
        response_model=None,
        responses={200: {"model": CatalogList, "description": summary}, **_NOT_MODIFIED, **ERRORS},
    )
    async def catalog(
        request: Request, _claims: ReaderClaims, services: ServicesDep, req: ReadRequestDep
    ) -> Response:
        return conditional(request, await services.reader.catalog_body(table, req))


_catalog_route("fuel_types", "/fuel-types", "Fuel types")
_catalog_route("services", "/services", "Station services")

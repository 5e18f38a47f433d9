"""v1: the seed's client contract, frozen (``GET /api/v1/fuel-stations``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fuelhub_api.deps import (
    ReaderClaims,
    ReadRequestDep,
    ServicesDep,
    conditional,
    openapi_params,
    query_param,
)
from fuelhub_api.params import parse_page
from fuelhub_api.responses import ERRORS
from fuelhub_api.schemas import PaginatedFuelStationList

router = APIRouter(prefix="/api/v1", tags=["v1"])


@router.get(
    "/fuel-stations",
    operation_id="v1_fuel_stations_list",
    summary="Fuel stations (the seed's contract, frozen)",
    description=(
        "Exactly the original server's `PaginatedFuelStationList`: offset pagination, prices "
        "only in RUB, USD, EUR and RSD. `limit` defaults to 100; values above 1000 are "
        "clamped to 1000 and 0 means the default, as the original's paginator did; negative or "
        "non-integer `limit`/`offset` give 400. Unlike the original, a request without `limit` "
        "gets the first page (the original returned the whole table as a bare array, contrary "
        "to its own schema)."
    ),
    response_model=None,
    responses={
        200: {"model": PaginatedFuelStationList, "description": "One page of stations."},
        304: {"description": "Not modified (If-None-Match matched the ETag)."},
        **ERRORS,
    },
    openapi_extra=openapi_params(
        query_param(
            "limit",
            {"type": "integer"},
            "Number of results to return per page (default 100, at most 1000).",
            100,
        ),
        query_param(
            "offset", {"type": "integer"}, "The initial index from which to return the results.", 0
        ),
    ),
)
async def list_stations_v1(
    request: Request, _claims: ReaderClaims, services: ServicesDep, req: ReadRequestDep
) -> Response:
    params = request.query_params
    page = parse_page(params.get("limit"), params.get("offset"))
    return conditional(request, await services.reader.v1_page(page, req))

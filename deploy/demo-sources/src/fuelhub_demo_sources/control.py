"""``/_control/``: drive the demo upstreams from tests without restarting them."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .evolution import StepKind
from .faults import (
    ENDPOINTS,
    KINDS_FOR,
    BodyFault,
    BodyKind,
    Endpoint,
    ErrorFault,
    MalformedFault,
    MalformedKind,
)
from .model import FuelPrice, Station
from .service import DemoService

router = APIRouter(prefix="/_control", tags=["control"])

Target = Literal["stations", "prices", "both"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FuelPriceIn(_In):
    name: str
    price: Annotated[Decimal, Field(allow_inf_nan=False)]
    currency: str


class StationIn(_In):
    id: int
    coordinates: tuple[float, float]
    number: int = 0
    address: str | None = None
    image_urls: list[str] = []
    additional_services: list[str] = []


class ErrorsIn(_In):
    endpoint: Target = "both"
    status: int = Field(default=503, ge=400, le=599)
    count: int | None = Field(default=None, ge=1, description="Fail the next `count` responses.")
    rate: float | None = Field(default=None, ge=0, le=1, description="Fail this share, until off.")
    retry_after: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_of(self) -> ErrorsIn:
        if (self.count is None) == (self.rate is None):
            raise ValueError("give exactly one of count or rate")
        return self


class MalformedIn(_In):
    endpoint: Target = "both"
    kinds: list[MalformedKind] | None = Field(
        default=None, description="Kinds to cycle through; default: every kind of the endpoint."
    )
    count: int | None = Field(default=None, ge=0)
    fraction: float | None = Field(default=None, ge=0, le=1)
    times: int | None = Field(default=None, ge=1, description="Responses affected; default: all.")
    huge_string_length: int = Field(default=100_000, ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _one_of(self) -> MalformedIn:
        if (self.count is None) == (self.fraction is None):
            raise ValueError("give exactly one of count or fraction")
        return self


class BodyIn(_In):
    endpoint: Target = "both"
    kind: BodyKind
    drop: float = Field(default=0.5, ge=0, le=1, description="`truncated`: share of records gone.")
    size_mb: float = Field(default=200, gt=0, le=10_000, description="`huge`: body size in MB.")
    declare_length: bool = Field(default=False, description="`huge`: send Content-Length.")
    times: int | None = Field(default=None, ge=1, description="Responses affected; default: all.")


class LatencyIn(_In):
    stations: float | None = Field(default=None, ge=0, le=600)
    prices: float | None = Field(default=None, ge=0, le=600)


class ConditionalIn(_In):
    enabled: bool


class EvolutionIn(_In):
    enabled: bool | None = None
    price_changes_per_minute: float | None = Field(default=None, ge=0, le=6000)
    catalog_changes_per_hour: float | None = Field(default=None, ge=0, le=36000)


def _service(request: Request) -> DemoService:
    service: DemoService = request.app.state.service
    return service


def _targets(target: Target) -> tuple[Endpoint, ...]:
    return ENDPOINTS if target == "both" else (target,)


@router.get("/state")
async def state(request: Request) -> dict[str, Any]:
    """Counts, knobs, faults switched on and what the last responses carried."""
    return _service(request).summary()


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Back to the seed data, every knob to its setting, every fault off."""
    old = _service(request)
    # Built off the event loop: 100,000 stations take seconds, and requests keep being served.
    fresh = await asyncio.to_thread(DemoService, old.settings, old.clock)
    request.app.state.service = fresh
    return fresh.summary()


@router.post("/evolve")
async def evolve_now(
    request: Request,
    steps: Annotated[int, Query(ge=1, le=10_000)] = 1,
    kind: StepKind | None = None,
) -> list[dict[str, Any]]:
    """Run evolution steps now (``kind``: prices or catalog; default: random, like the ticker)."""
    service = _service(request)
    changes = [service.evolve_step(kind) for _ in range(steps)]
    return [{"kind": c.kind, "station_id": c.station_id} for c in changes]


@router.post("/evolution")
async def evolution(request: Request, body: EvolutionIn) -> dict[str, Any]:
    """Switch the background evolution on or off, or change its rates."""
    ev = _service(request).evolution
    if body.enabled is not None:
        ev.enabled = body.enabled
    if body.price_changes_per_minute is not None:
        ev.price_changes_per_minute = body.price_changes_per_minute
    if body.catalog_changes_per_hour is not None:
        ev.catalog_changes_per_hour = body.catalog_changes_per_hour
    return _service(request).summary()["evolution"]  # type: ignore[no-any-return]


@router.post("/prices/{station_id}")
async def set_prices(request: Request, station_id: int, body: list[FuelPriceIn]) -> dict[str, Any]:
    """Set one station's whole price list (an empty list is served as ``"fuel_prices": []``)."""
    prices = tuple(FuelPrice(p.name, p.price, p.currency) for p in body)
    _service(request).put_prices(station_id, prices)
    return {"id": station_id, "fuel_prices": len(prices)}


@router.delete("/prices/{station_id}", status_code=204)
async def delete_prices(request: Request, station_id: int) -> Response:
    """Remove a station from Source 2."""
    if not _service(request).remove_prices(station_id):
        raise HTTPException(404, f"no price list for station {station_id}")
    return Response(status_code=204)


@router.post("/stations")
async def upsert_station(request: Request, body: StationIn) -> dict[str, Any]:
    """Add or replace a Source 1 station (contract shape)."""
    lat, lon = body.coordinates
    station = Station(
        id=body.id,
        lat=lat,
        lon=lon,
        number=body.number,
        address=body.address,
        image_urls=tuple(body.image_urls),
        services=tuple(body.additional_services),
    )
    _service(request).put_station(station)
    return {"id": body.id}


@router.delete("/stations/{station_id}", status_code=204)
async def delete_station(request: Request, station_id: int) -> Response:
    """Remove a station from Source 1 (its prices, if any, stay in Source 2)."""
    if not _service(request).remove_station(station_id):
        raise HTTPException(404, f"no station {station_id}")
    return Response(status_code=204)


@router.post("/latency")
async def latency(request: Request, body: LatencyIn) -> dict[str, float]:
    """Seconds each source waits before answering."""
    service = _service(request)
    if body.stations is not None:
        service.latency["stations"] = body.stations
    if body.prices is not None:
        service.latency["prices"] = body.prices
    return dict(service.latency.items())


@router.post("/conditional")
async def conditional(request: Request, body: ConditionalIn) -> dict[str, bool]:
    """Turn ETag/Last-Modified and 304 answers on or off."""
    _service(request).conditional = body.enabled
    return {"enabled": body.enabled}


@router.post("/errors")
async def errors(request: Request, body: ErrorsIn) -> dict[str, Any]:
    """Answer with an error status: the next ``count`` responses, or a ``rate`` of them."""
    service = _service(request)
    for endpoint in _targets(body.endpoint):
        service.faults[endpoint].error = ErrorFault(
            status=body.status,
            count=body.count,
            rate=1.0 if body.rate is None else body.rate,
            retry_after=body.retry_after,
        )
    return _faults(service)


@router.post("/malformed")
async def malformed(request: Request, body: MalformedIn) -> dict[str, Any]:
    """Corrupt ``count`` records (or a ``fraction``) of each response, in the given ways."""
    service = _service(request)
    for endpoint in _targets(body.endpoint):
        allowed = KINDS_FOR[endpoint]
        kinds = tuple(body.kinds) if body.kinds is not None else allowed
        if body.endpoint == "both":
            kinds = tuple(k for k in kinds if k in allowed)
        wrong = [k.value for k in kinds if k not in allowed]
        if wrong or not kinds:
            raise HTTPException(422, f"kinds {wrong or 'none'} do not apply to {endpoint}")
        service.faults[endpoint].malformed = MalformedFault(
            kinds=kinds,
            count=body.count,
            fraction=body.fraction,
            times=body.times,
            huge_string_length=body.huge_string_length,
        )
    return _faults(service)


@router.post("/body")
async def body_fault(request: Request, body: BodyIn) -> dict[str, Any]:
    """Break whole bodies: not_json, object, empty, truncated, huge or cut."""
    service = _service(request)
    for endpoint in _targets(body.endpoint):
        service.faults[endpoint].body = BodyFault(
            kind=body.kind,
            drop=body.drop,
            size_mb=body.size_mb,
            declare_length=body.declare_length,
            times=body.times,
        )
    return _faults(service)


@router.delete("/errors")
async def clear_errors(request: Request, endpoint: Target = "both") -> dict[str, Any]:
    return _clear(_service(request), endpoint, "error")


@router.delete("/malformed")
async def clear_malformed(request: Request, endpoint: Target = "both") -> dict[str, Any]:
    return _clear(_service(request), endpoint, "malformed")


@router.delete("/body")
async def clear_body(request: Request, endpoint: Target = "both") -> dict[str, Any]:
    return _clear(_service(request), endpoint, "body")


@router.delete("/faults")
async def clear_faults(request: Request, endpoint: Target = "both") -> dict[str, Any]:
    """Switch every fault off (latency and data are left alone)."""
    return _clear(_service(request), endpoint, "error", "malformed", "body")


def _clear(service: DemoService, target: Target, *names: str) -> dict[str, Any]:
    for endpoint in _targets(target):
        for name in names:
            setattr(service.faults[endpoint], name, None)
    return _faults(service)


def _faults(service: DemoService) -> dict[str, Any]:
    return {e: f.describe() for e, f in service.faults.items()}

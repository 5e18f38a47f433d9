"""Response shapes for the OpenAPI document. Bodies are assembled as bytes (see pages.py);
these models describe them for clients and for the schema-conformance tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")

_ICON = "http://127.0.0.1:8000/media/icons/3f1c…-128.png"
_V1_STATION: Any = {
    "id": 1042,
    "coordinate_x": 55.751244,
    "coordinate_y": 37.618423,
    "number": 17,
    "address": "ул. Тверская, 1",
    "image_urls": ["https://images.example/1042.jpg"],
    "fuels": [
        {"price": 54.9, "currency": "RUB", "fuel_type": {"id": 2, "name": "АИ-95", "icon": _ICON}}
    ],
    "services": [{"id": 1, "name": "Мойка", "icon": None}],
}
_V2_STATION: Any = {
    **_V1_STATION,
    "fuels": [{**_V1_STATION["fuels"][0], "updated_at": "2026-03-01T06:04:00+00:00"}],
    "updated_at": "2026-03-01T06:04:00.120000+00:00",
    "distance_km": 1.234,
}
_DATA_AS_OF_EXAMPLE: Any = {
    "source1": "2026-03-01T06:00:00.000000Z",
    "source2": "2026-03-01T06:04:00.000000Z",
}


class Error(BaseModel):
    model_config = _STRICT
    detail: str = Field(examples=["limit must be an integer from 1 to 1000 (got 'abc')"])


class NamedIcon(BaseModel):
    model_config = _STRICT
    id: int
    name: str
    icon: str | None = Field(description="Absolute URL of the icon, or null.")


class FuelPriceV1(BaseModel):
    model_config = _STRICT
    price: float = Field(description="Exact decimal as a JSON number.", examples=[54.9])
    currency: Literal["RUB", "USD", "EUR", "RSD"]
    fuel_type: NamedIcon


class StationV1(BaseModel):
    model_config = _STRICT
    id: int
    coordinate_x: float = Field(description="Latitude.")
    coordinate_y: float = Field(description="Longitude.")
    number: int = Field(ge=0, le=2147483647)
    address: str | None = None
    image_urls: list[str] | None = None
    fuels: list[FuelPriceV1]
    services: list[NamedIcon]


class PaginatedFuelStationList(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "count": 9876,
                    "next": "http://127.0.0.1:8000/api/v1/fuel-stations?limit=1&offset=1",
                    "previous": None,
                    "results": [_V1_STATION],
                }
            ]
        },
    )
    count: int = Field(examples=[123])
    next: str | None = Field(
        examples=["http://127.0.0.1:8000/api/v1/fuel-stations?limit=100&offset=400"]
    )
    previous: str | None = Field(
        examples=["http://127.0.0.1:8000/api/v1/fuel-stations?limit=100&offset=200"]
    )
    results: list[StationV1]


class FuelPriceV2(BaseModel):
    model_config = _STRICT
    price: float = Field(description="Exact decimal as a JSON number.", examples=[54.9])
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    fuel_type: NamedIcon
    updated_at: datetime


class StationV2(BaseModel):
    model_config = _STRICT
    id: int
    coordinate_x: float
    coordinate_y: float
    number: int = Field(ge=0, le=2147483647)
    address: str | None = None
    image_urls: list[str] | None = None
    fuels: list[FuelPriceV2]
    services: list[NamedIcon]
    updated_at: datetime
    distance_km: float | None = Field(
        default=None, description="Distance from `near`, only when `near` is given."
    )


class Tombstone(BaseModel):
    model_config = _STRICT
    id: int
    deleted: Literal[True]


DataAsOf = dict[str, datetime | None]
_DATA_AS_OF = Field(
    description="Per source: when its data was last fetched successfully (null: never).",
    examples=[{"source1": "2026-01-31T12:00:00.000000Z", "source2": "2026-01-31T12:04:00.000000Z"}],
)


class StationPage(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "count": 3,
                    "next": "http://127.0.0.1:8000/api/v2/fuel-stations?limit=1&fuel=%D0%90%D0%98-95"
                    "&near=55.75%2C37.62&radius_km=5.0&sort=price&after=price%3ARUB%3A54.9000%3A1042",
                    "sync": "20417",
                    "data_as_of": _DATA_AS_OF_EXAMPLE,
                    "results": [_V2_STATION],
                },
                {
                    "count": None,
                    "next": None,
                    "sync": "20433",
                    "data_as_of": _DATA_AS_OF_EXAMPLE,
                    "results": [_V2_STATION, {"id": 7, "deleted": True}],
                },
            ]
        },
    )
    count: int | None = Field(
        description="Stations matching the filters (null on a `since=` delta page)."
    )
    next: str | None = Field(description="The next page (keyset), or null on the last page.")
    sync: str = Field(
        description="Opaque delta-sync cursor: pass it as `since=` to get what changed after "
        "this response (keep the one from the first page of a walk).",
        examples=["1042"],
    )
    data_as_of: DataAsOf = _DATA_AS_OF
    results: list[StationV2 | Tombstone]


class StationDetail(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "sync": "20417",
                    "data_as_of": _DATA_AS_OF_EXAMPLE,
                    "station": {k: v for k, v in _V2_STATION.items() if k != "distance_km"},
                }
            ]
        },
    )
    sync: str
    data_as_of: DataAsOf = _DATA_AS_OF
    station: StationV2


class CatalogList(BaseModel):
    model_config = _STRICT
    data_as_of: DataAsOf = _DATA_AS_OF
    results: list[NamedIcon]


class PricePoint(BaseModel):
    model_config = _STRICT
    fuel_type_id: int
    fuel_type: str | None
    price: float | None = Field(description="Null when the fuel stopped being sold.")
    currency: str | None
    observed_at: datetime
    recorded_at: datetime


class PriceHistory(BaseModel):
    model_config = _STRICT
    station_id: int
    next: str | None
    data_as_of: DataAsOf = _DATA_AS_OF
    results: list[PricePoint]

"""Source 1's record → a validated, normalised :class:`StationState`."""

from __future__ import annotations

from typing import Any

from fuelhub_common.events import (
    MAX_ADDRESS_LENGTH,
    MAX_NUMBER,
    MAX_SERVICE_NAME_LENGTH,
    MAX_URL_LENGTH,
    Source,
    StationsChanged,
    StationState,
)
from fuelhub_common.ingestion import fields
from fuelhub_common.ingestion.source import RecordRejectedError
from fuelhub_common.normalize import FuelNameNormalizer, unique_service_names
from pydantic import BaseModel, ValidationError

MAX_IMAGES = 50
MAX_SERVICES = 100
COORDINATE_PLACES = 7  # ~1 cm: more is noise, and noise would read as a change


class StationsAdapter:
    """Parses ``GET /fuel-stations`` records (see shared/contracts/README.md)."""

    source = Source.SOURCE1
    model = StationsChanged
    entity = "station"

    def parse(self, record: Any, normalize_fuel: FuelNameNormalizer) -> tuple[int, BaseModel]:
        raw = fields.record_object(record)
        station_id = fields.entity_id(raw)
        latitude, longitude = _coordinates(raw.get("coordinates"), station_id)
        address = raw.get("address")
        try:
            state = StationState(
                id=station_id,
                latitude=latitude,
                longitude=longitude,
                number=fields.integer(
                    raw.get("number"), "number", station_id, minimum=0, maximum=MAX_NUMBER
                ),
                address=None
                if address is None
                else fields.text(address, "address", station_id, max_length=MAX_ADDRESS_LENGTH)
                or None,
                image_urls=tuple(
                    url
                    for url in fields.string_list(
                        raw.get("image_urls"),
                        "image_urls",
                        station_id,
                        max_items=MAX_IMAGES,
                        max_length=MAX_URL_LENGTH,
                    )
                    if url
                ),
                services=unique_service_names(
                    fields.string_list(
                        raw.get("additional_services"),
                        "additional_services",
                        station_id,
                        max_items=MAX_SERVICES,
                        max_length=MAX_SERVICE_NAME_LENGTH,
                    )
                ),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RecordRejectedError(f"invalid {where}", station_id, first["msg"]) from None
        return station_id, state


def _coordinates(value: Any, station_id: int) -> tuple[Any, Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise RecordRejectedError(
            "coordinates are not a [lat, lon] pair", station_id, repr(value)[:80]
        )
    latitude = fields.number(value[0], "latitude", station_id)
    longitude = fields.number(value[1], "longitude", station_id)
    if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
        raise RecordRejectedError(
            "coordinates out of range", station_id, f"[{latitude}, {longitude}]"
        )
    return (
        fields.canonical(latitude, COORDINATE_PLACES),
        fields.canonical(longitude, COORDINATE_PLACES),
    )

"""Source 2's record → a validated, normalised :class:`PriceListState`."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import pycountry
from fuelhub_common.events import (
    MAX_NAME_LENGTH,
    MAX_PRICE,
    FuelPrice,
    PriceListState,
    PricesChanged,
    Source,
)
from fuelhub_common.ingestion import fields
from fuelhub_common.ingestion.source import RecordRejectedError
from fuelhub_common.normalize import FuelNameNormalizer
from pydantic import BaseModel, ValidationError

MAX_FUELS = 50
PRICE_PLACES = 4


@cache
def _iso_currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


class PricesAdapter:
    """Parses ``GET /fuel-prices`` records (see shared/contracts/README.md)."""

    source = Source.SOURCE2
    model = PricesChanged
    entity = "price_list"

    def parse(self, record: Any, normalize_fuel: FuelNameNormalizer) -> tuple[int, BaseModel]:
        raw = fields.record_object(record)
        station_id = fields.entity_id(raw)
        entries = raw.get("fuel_prices")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise RecordRejectedError("fuel_prices is not a list", station_id)
        if len(entries) > MAX_FUELS:
            raise RecordRejectedError("fuel_prices has too many items", station_id)
        by_fuel: dict[str, FuelPrice] = {}
        for entry in entries:
            price = _fuel_price(entry, station_id, normalize_fuel)
            existing = by_fuel.get(price.fuel)
            if existing is not None and existing != price:
                raise RecordRejectedError("duplicate fuel in price list", station_id, price.fuel)
            by_fuel[price.fuel] = price
        return station_id, PriceListState(station_id=station_id, prices=tuple(by_fuel.values()))


def _fuel_price(entry: Any, station_id: int, normalize_fuel: FuelNameNormalizer) -> FuelPrice:
    if not isinstance(entry, dict):
        raise RecordRejectedError("fuel price is not an object", station_id)
    name = fields.text(entry.get("name"), "fuel name", station_id, max_length=MAX_NAME_LENGTH)
    fuel = normalize_fuel(name)
    if not fuel:
        raise RecordRejectedError("fuel name is empty", station_id)
    price = fields.number(entry.get("price"), "price", station_id)
    if price <= 0:
        raise RecordRejectedError("price is not positive", station_id, str(price))
    if price > MAX_PRICE:
        raise RecordRejectedError("price out of range", station_id, str(price))
    if price != price.quantize(Decimal(1).scaleb(-PRICE_PLACES), rounding="ROUND_DOWN"):
        raise RecordRejectedError("price has more than 4 decimals", station_id, str(price))
    currency = entry.get("currency")
    if not isinstance(currency, str) or not currency.isascii() or len(currency.strip()) != 3:
        raise RecordRejectedError("malformed currency", station_id, repr(currency)[:20])
    code = currency.strip().upper()
    if code not in _iso_currencies():
        raise RecordRejectedError("unknown currency", station_id, code)
    try:
        return FuelPrice(fuel=fuel, price=fields.canonical(price, PRICE_PLACES), currency=code)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RecordRejectedError("invalid fuel price", station_id, first["msg"]) from None

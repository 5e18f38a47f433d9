"""The seed state: the contract's sample records plus generated, realistic stations. No I/O
except reading the two sample files shipped inside the package."""

from __future__ import annotations

import base64
import functools
import itertools
import json
import random
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

from .model import EPOCH, DemoState, FuelPrice, PriceList, Station
from .vocab import (
    BASE_PRICE_RUB,
    CURRENCY_FACTOR,
    CURRENCY_PLACES,
    FUEL_LOOKALIKES,
    FUELS,
    REGIONS,
    SERVICES,
    Region,
)

STATIONS_SAMPLE = "source1-stations.sample.json"
PRICES_SAMPLE = "source2-prices.sample.json"

CATALOG_ONLY_SHARE = 0.04  # generated stations with no price list
PRICES_ONLY_SHARE = 0.02  # extra price lists whose id has no catalog entry
LOOKALIKE_SHARE = 0.05  # fuel names spelled the way some station owners do
MESSY_SERVICES_SHARE = 0.03  # service lists with stray spaces or a duplicate
NULL_ADDRESS_SHARE = 0.01

_REGION_CUM_WEIGHTS = list(itertools.accumulate(r.weight for r in REGIONS))


def sample_text(name: str) -> str:
    """The text of a contract sample file shipped in the package's ``data`` folder."""
    return (resources.files("fuelhub_demo_sources") / "data" / name).read_text("utf-8")


def load_sample_stations() -> list[Station]:
    return [_station_from_json(item) for item in json.loads(sample_text(STATIONS_SAMPLE))]


def load_sample_prices() -> dict[int, PriceList]:
    # Exact decimals from the start: the samples' prices must never pass through a float.
    items = json.loads(sample_text(PRICES_SAMPLE), parse_float=Decimal)
    return {
        int(item["id"]): tuple(
            FuelPrice(str(p["name"]), Decimal(p["price"]), str(p["currency"]))
            for p in item["fuel_prices"]
        )
        for item in items
    }


def _station_from_json(item: dict[str, Any]) -> Station:
    lat, lon = item["coordinates"]
    return Station(
        id=int(item["id"]),
        lat=float(lat),
        lon=float(lon),
        number=int(item["number"]),
        address=item["address"],
        image_urls=tuple(item["image_urls"]),
        services=tuple(item["additional_services"]),
    )


def build_seed_state(seed: int, stations: int, now: datetime = EPOCH) -> DemoState:
    """The state the app starts from: same ``seed`` and ``stations``, same data.

    The catalog holds ``max(stations, 4)`` stations (the four samples first); most generated
    stations have a price list, some have none, and a few price lists have no catalog entry.
    """
    rng = random.Random(seed)
    samples = load_sample_stations()
    state = DemoState(protected_ids=frozenset(s.id for s in samples))
    for station in samples:
        state.stations[station.id] = station
    state.prices.update(load_sample_prices())
    next_id = max(state.stations) + 1
    for _ in range(max(0, stations - len(samples))):
        region = rng.choices(REGIONS, cum_weights=_REGION_CUM_WEIGHTS)[0]
        station = generate_station(rng, next_id, region)
        state.stations[station.id] = station
        if rng.random() >= CATALOG_ONLY_SHARE:
            state.prices[station.id] = generate_price_list(rng, _currency(rng, region))
        # Real catalogs have gaps where stations were closed.
        next_id += 1 if rng.random() > 0.1 else rng.randint(2, 5)
    for _ in range(round((stations - len(samples)) * PRICES_ONLY_SHARE)):
        state.prices[next_id] = generate_price_list(rng, "RUB")
        next_id += 1
    state.next_id = next_id
    state.stations_modified = state.prices_modified = now.replace(microsecond=0)
    return state


def generate_station(rng: random.Random, station_id: int, region: Region | None = None) -> Station:
    """A plausible station in ``region`` (a random one if not given)."""
    if region is None:
        region = rng.choices(REGIONS, cum_weights=_REGION_CUM_WEIGHTS)[0]
    address: str | None = None
    if rng.random() >= NULL_ADDRESS_SHARE:
        address = region.address_format.format(
            street=rng.choice(region.streets),
            house=_house_number(rng),
            city=region.city,
            postcode=rng.randint(*region.postcode),
        )
    return Station(
        id=station_id,
        lat=round(region.lat + rng.uniform(-region.spread, region.spread), 6),
        lon=round(region.lon + rng.uniform(-region.spread, region.spread) * 1.6, 6),
        number=rng.randint(1, 9999),
        address=address,
        image_urls=tuple(_image_url(rng) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))),
        services=generate_services(rng),
    )


def generate_services(rng: random.Random) -> tuple[str, ...]:
    # Two random masks ANDed: each service is offered by about a quarter of the stations.
    services = _services_for_mask(rng.getrandbits(len(SERVICES)) & rng.getrandbits(len(SERVICES)))
    if services and rng.random() < MESSY_SERVICES_SHARE:
        # Left for the ingestors to trim and de-duplicate.
        return (*services, " " + services[0] + " ")
    return services


@functools.lru_cache(maxsize=1 << len(SERVICES))
def _services_for_mask(mask: int) -> tuple[str, ...]:
    # Cached so 100,000 stations share a few thousand tuples instead of owning one each.
    return tuple(name for bit, name in enumerate(SERVICES) if mask >> bit & 1)


# Every choice of 3 to 6 fuels, in the canonical order.
_FUEL_SETS = [c for k in range(3, len(FUELS) + 1) for c in itertools.combinations(FUELS, k)]


def generate_price_list(rng: random.Random, currency: str) -> PriceList:
    """A list of 3 to 6 fuels with plausible prices, a few names spelled oddly."""
    return tuple(
        price_entry(_spelling(rng, fuel), fuel_price(rng, fuel, currency), currency)
        for fuel in rng.choice(_FUEL_SETS)
    )


@functools.lru_cache(maxsize=65536)
def price_entry(name: str, price: Decimal, currency: str) -> FuelPrice:
    """A shared, immutable price entry: at 100,000 stations most entries repeat."""
    return FuelPrice(name, price, currency)


def station_currency(rng: random.Random, station: Station) -> str:
    """The currency a station quotes in: its region's, now and then USD or EUR."""
    nearest = min(REGIONS, key=lambda r: (r.lat - station.lat) ** 2 + (r.lon - station.lon) ** 2)
    return _currency(rng, nearest)


def _currency(rng: random.Random, region: Region) -> str:
    roll = rng.random()
    if roll < 0.01:
        return "USD"
    if roll < 0.02 and region.currency == "RSD":
        return "EUR"
    return region.currency


def fuel_price(rng: random.Random, fuel: str, currency: str) -> Decimal:
    """A typical price of ``fuel`` in ``currency``, exact to the currency's quoted places."""
    places = CURRENCY_PLACES.get(currency, 2)
    typical = _TYPICAL_FLOAT[_base_fuel(fuel)] * _FACTOR_FLOAT.get(currency, 1.0)
    # Integer minor units: the float is only a random draw, the result is an exact decimal.
    minor = round(typical * rng.uniform(0.93, 1.08) * 10**places)
    return Decimal(minor).scaleb(-places)


_TYPICAL_FLOAT = {fuel: float(price) for fuel, price in BASE_PRICE_RUB.items()}
_FACTOR_FLOAT = {currency: float(factor) for currency, factor in CURRENCY_FACTOR.items()}


def quantize(price: Decimal, currency: str) -> Decimal:
    """Round a price to the places its currency is quoted with (never more than 2)."""
    return price.quantize(price_step(currency), rounding=ROUND_HALF_UP)


def price_step(currency: str) -> Decimal:
    """The smallest price difference a currency is quoted with, e.g. 0.01 for RUB."""
    return Decimal(1).scaleb(-CURRENCY_PLACES.get(currency, 2))


def _base_fuel(name: str) -> str:
    if name in BASE_PRICE_RUB:
        return name
    for fuel, spellings in FUEL_LOOKALIKES.items():
        if name in spellings:
            return fuel
    return "АИ-95"


def _spelling(rng: random.Random, fuel: str) -> str:
    if rng.random() < LOOKALIKE_SHARE:
        return rng.choice(FUEL_LOOKALIKES[fuel])
    return fuel


def _house_number(rng: random.Random) -> str:
    house = str(rng.randint(1, 250))
    roll = rng.random()
    if roll < 0.1:
        return house + rng.choice("абв")
    if roll < 0.15:
        return f"{house}/{rng.randint(1, 9)}"
    return house


def _image_url(rng: random.Random) -> str:
    key = base64.urlsafe_b64encode(rng.getrandbits(232).to_bytes(29, "big")).decode()[:38]
    width, height = rng.choice(((130, 86), (203, 203), (203, 152), (114, 86)))
    return f"https://lh5.googleusercontent.com/p/AF1Qip{key}=w{width}-h{height}-k-no"

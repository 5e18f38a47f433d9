"""How the upstreams change over time: prices often, the catalog rarely. Pure, no I/O."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from .model import DemoState, FuelPrice, PriceList
from .seed import (
    fuel_price,
    generate_price_list,
    generate_services,
    generate_station,
    price_entry,
    price_step,
    quantize,
    station_currency,
)
from .vocab import FUELS

ChangeKind = Literal[
    "prices_changed",
    "prices_added",
    "station_added",
    "station_removed",
    "station_changed",
    "nothing",
]
StepKind = Literal["prices", "catalog"]

# Defaults' ratio: 2 catalog changes an hour against 6 price changes a minute.
DEFAULT_CATALOG_PROBABILITY = 2 / (2 + 6 * 60)


@dataclass(frozen=True, slots=True)
class Change:
    """What one evolution step did, to which station."""

    kind: ChangeKind
    station_id: int | None = None


def evolve(
    state: DemoState,
    rng: random.Random,
    now: datetime,
    *,
    kind: StepKind | None = None,
    catalog_probability: float = DEFAULT_CATALOG_PROBABILITY,
) -> Change:
    """Apply one random change to ``state`` at time ``now`` and say what it was.

    Without ``kind``, the step changes the catalog with ``catalog_probability`` and a price list
    otherwise. The contract's sample stations are never removed, so they are always there.
    """
    if kind is None:
        kind = "catalog" if rng.random() < catalog_probability else "prices"
    if kind == "catalog":
        return _change_catalog(state, rng, now)
    return _change_prices(state, rng, now)


def _change_prices(state: DemoState, rng: random.Random, now: datetime) -> Change:
    unpriced = [] if rng.random() >= 0.05 else _some_unpriced(state, rng)
    if unpriced:
        station_id = rng.choice(unpriced)
        currency = station_currency(rng, state.stations[station_id])
        state.put_prices(station_id, generate_price_list(rng, currency), now)
        return Change("prices_added", station_id)
    if not state.prices:
        return Change("nothing")
    station_id = _random_key(state.prices, rng)
    state.put_prices(station_id, _changed_price_list(state.prices[station_id], rng), now)
    return Change("prices_changed", station_id)


def _changed_price_list(prices: PriceList, rng: random.Random) -> PriceList:
    currency = prices[0].currency if prices else "RUB"
    roll = rng.random()
    if roll < 0.1 and len(prices) < len(FUELS):
        # A fuel appears; a station usually writes its names the same way, so reuse canonical.
        present = {p.name for p in prices}
        missing = [f for f in FUELS if f not in present]
        if missing:
            fuel = rng.choice(missing)
            return (*prices, price_entry(fuel, fuel_price(rng, fuel, currency), currency))
    if roll < 0.2 and len(prices) > 3:
        drop = rng.randrange(len(prices))
        return prices[:drop] + prices[drop + 1 :]
    if not prices:
        return generate_price_list(rng, currency)
    changed = list(prices)
    for index in rng.sample(range(len(changed)), rng.randint(1, len(changed))):
        changed[index] = _nudged(changed[index], rng)
    return tuple(changed)


def _nudged(price: FuelPrice, rng: random.Random) -> FuelPrice:
    percent = Decimal(str(round(rng.uniform(0.5, 3.0), 2))) * rng.choice((-1, 1))
    new = quantize(price.price * (1 + percent / 100), price.currency)
    if new == price.price:
        # Rounding ate the change; move by the smallest quoted step so a change is a change.
        new = price.price + price_step(price.currency)
    if new <= 0:
        new = price.price
    return price_entry(price.name, new, price.currency)


def _change_catalog(state: DemoState, rng: random.Random, now: datetime) -> Change:
    roll = rng.random()
    removable = [i for i in state.stations if i not in state.protected_ids] if roll < 0.67 else []
    if roll < 0.33 or (roll < 0.67 and not removable):
        station = generate_station(rng, state.next_id)
        state.put_station(station, now)
        if rng.random() < 0.8:
            state.put_prices(
                station.id, generate_price_list(rng, station_currency(rng, station)), now
            )
        return Change("station_added", station.id)
    if roll < 0.67:
        station_id = rng.choice(removable)
        state.remove_station(station_id, now)
        if rng.random() < 0.5:
            # The price source lags behind: half the time the prices outlive the station.
            state.remove_prices(station_id, now)
        return Change("station_removed", station_id)
    if not state.stations:
        return Change("nothing")
    station = state.stations[_random_key(state.stations, rng)]
    fresh = generate_station(rng, station.id)
    if rng.random() < 0.5:
        changed = station._replace(address=fresh.address)
    else:
        changed = station._replace(services=generate_services(rng))
    if changed == station:
        changed = station._replace(address=(station.address or "") + " (новый адрес)")
    state.put_station(changed, now)
    return Change("station_changed", station.id)


def _random_key(mapping: Mapping[int, object], rng: random.Random) -> int:
    # O(n) but runs a few times a minute; avoids keeping a second index in sync.
    return rng.choice(list(mapping))


def _some_unpriced(state: DemoState, rng: random.Random) -> list[int]:
    # Look at a bounded sample: scanning 100,000 stations on every step is wasteful.
    ids = list(state.stations)
    picks = rng.sample(ids, min(len(ids), 200))
    return [i for i in picks if i not in state.prices]


def poisson(rng: random.Random, mean: float) -> int:
    """How many events of a Poisson process with this ``mean`` fall in one interval.

    Knuth's method: fine for the small means of a ticking clock (a few events per tick).
    """
    if mean <= 0:
        return 0
    limit = math.exp(-min(mean, 500.0))
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count

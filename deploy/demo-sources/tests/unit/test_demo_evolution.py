"""Evolution: prices change often, the catalog rarely, the samples stay."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fuelhub_demo_sources.evolution import evolve, poisson
from fuelhub_demo_sources.seed import build_seed_state

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_demo_a_price_step_changes_one_price_list_and_not_the_catalog() -> None:
    state = build_seed_state(1, 300)
    before_prices, before_stations = dict(state.prices), dict(state.stations)
    change = evolve(state, random.Random(5), NOW, kind="prices")
    assert change.kind in ("prices_changed", "prices_added")
    changed = {i for i in state.prices if state.prices[i] != before_prices.get(i)}
    assert changed == {change.station_id}
    assert state.stations == before_stations
    assert state.prices_version == 1
    assert state.stations_version == 0
    assert state.prices_modified == NOW


def test_demo_price_steps_keep_prices_valid_and_exact() -> None:
    state = build_seed_state(2, 200)
    rng = random.Random(2)
    for n in range(500):
        evolve(state, rng, NOW + timedelta(seconds=n), kind="prices")
    for prices in state.prices.values():
        names = [p.name for p in prices]
        assert len(names) == len(set(names))
        for p in prices:
            assert p.price > 0
            assert isinstance(p.price, Decimal)
            assert -p.price.as_tuple().exponent <= 2  # type: ignore[operator]


def test_demo_catalog_steps_add_remove_and_change_stations_but_never_the_samples() -> None:
    state = build_seed_state(1, 50)
    rng = random.Random(9)
    kinds: Counter[str] = Counter()
    for n in range(300):
        kinds[evolve(state, rng, NOW + timedelta(seconds=n), kind="catalog").kind] += 1
    assert kinds["station_added"] > 0
    assert kinds["station_removed"] > 0
    assert kinds["station_changed"] > 0
    assert {1, 2, 3, 4} <= set(state.stations)


def test_demo_default_steps_are_mostly_prices() -> None:
    state = build_seed_state(1, 300)
    rng = random.Random(3)
    kinds = Counter(evolve(state, rng, NOW).kind for _ in range(2000))
    catalog = kinds["station_added"] + kinds["station_removed"] + kinds["station_changed"]
    assert kinds["prices_changed"] > 1800
    assert 0 < catalog < 60  # the default is about 1 step in 180


def test_demo_station_added_gets_a_fresh_id() -> None:
    state = build_seed_state(1, 30)
    rng = random.Random(0)
    known = set(state.stations) | set(state.prices)
    added = [
        c.station_id
        for c in (evolve(state, rng, NOW, kind="catalog") for _ in range(100))
        if c.kind == "station_added"
    ]
    assert added
    assert not set(added) & known
    assert len(added) == len(set(added))


def test_demo_poisson_has_the_right_mean() -> None:
    rng = random.Random(1)
    draws = [poisson(rng, 0.05) for _ in range(20000)]
    assert 800 < sum(draws) < 1200
    assert poisson(rng, 0) == 0
    assert 30 < sum(poisson(rng, 5) for _ in range(10)) < 80

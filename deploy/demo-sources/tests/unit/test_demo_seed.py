"""The seed data: contract shapes, the samples, determinism, realistic variety."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from fuelhub_demo_sources.render import join_array, price_record, station_record
from fuelhub_demo_sources.seed import (
    PRICES_SAMPLE,
    STATIONS_SAMPLE,
    build_seed_state,
    sample_text,
)
from fuelhub_demo_sources.vocab import FUELS

CONTRACTS = Path(__file__).resolve().parents[4] / "shared" / "contracts"
if not CONTRACTS.exists():  # the repository may sit elsewhere than /work/main
    CONTRACTS = Path("/work/shared/contracts")


def stations_json(seed: int = 1, stations: int = 300) -> list[dict[str, object]]:
    state = build_seed_state(seed, stations)
    body = join_array(orjson.dumps(station_record(i, s)) for i, s in state.stations.items())
    return json.loads(body)  # type: ignore[no-any-return]


def prices_json(seed: int = 1, stations: int = 300) -> list[dict[str, object]]:
    state = build_seed_state(seed, stations)
    body = b"[" + b",".join(_dumps(price_record(i, p)) for i, p in state.prices.items()) + b"]"
    return json.loads(body, parse_float=Decimal)  # type: ignore[no-any-return]


def _dumps(record: dict[str, object]) -> bytes:
    from fuelhub_demo_sources.render import dumps

    return dumps(record)


@pytest.mark.parametrize("name", [STATIONS_SAMPLE, PRICES_SAMPLE])
def test_demo_packaged_samples_equal_the_contract(name: str) -> None:
    if not (CONTRACTS / name).exists():
        pytest.skip("shared contracts not checked out next to the repository")
    assert json.loads(sample_text(name)) == json.loads((CONTRACTS / name).read_text("utf-8"))


def test_demo_seed_contains_the_sample_stations_exactly() -> None:
    served = {s["id"]: s for s in stations_json()}
    for sample in json.loads(sample_text(STATIONS_SAMPLE)):
        assert served[sample["id"]] == sample


def test_demo_seed_contains_the_sample_prices_exactly() -> None:
    served = {p["id"]: p for p in prices_json()}
    for sample in json.loads(sample_text(PRICES_SAMPLE), parse_float=Decimal):
        assert served[sample["id"]] == sample


def test_demo_station_records_have_the_contract_fields_and_types() -> None:
    stations = stations_json()
    assert len(stations) == 300
    keys = set(json.loads(sample_text(STATIONS_SAMPLE))[0])
    for s in stations:
        assert set(s) == keys
        assert type(s["id"]) is int
        lat, lon = s["coordinates"]  # type: ignore[misc]
        assert type(lat) is float
        assert type(lon) is float
        assert -90 <= lat <= 90
        assert -180 <= lon <= 180
        assert type(s["number"]) is int
        assert s["number"] >= 0
        assert s["address"] is None or isinstance(s["address"], str)
        assert all(isinstance(u, str) and u.startswith("https://") for u in s["image_urls"])  # type: ignore[attr-defined]
        assert all(isinstance(x, str) for x in s["additional_services"])  # type: ignore[attr-defined]
    assert len({s["id"] for s in stations}) == len(stations)


def test_demo_price_records_have_the_contract_fields_and_exact_prices() -> None:
    prices = prices_json()
    currencies: Counter[str] = Counter()
    for p in prices:
        assert set(p) == {"id", "fuel_prices"}
        fuels = p["fuel_prices"]
        assert isinstance(fuels, list)
        for item in fuels:
            assert set(item) == {"name", "price", "currency"}
            assert isinstance(item["price"], Decimal | int)
            price = Decimal(item["price"])
            assert price > 0
            assert -price.as_tuple().exponent <= 2  # type: ignore[operator]
            currencies[item["currency"]] += 1
    generated = [p for p in prices if p["id"] > 4]  # type: ignore[operator]
    assert all(3 <= len(p["fuel_prices"]) <= 6 for p in generated)  # type: ignore[arg-type]
    assert {"RUB", "RSD"} <= set(currencies)


def test_demo_seed_is_deterministic_and_depends_on_the_seed() -> None:
    assert stations_json(7) == stations_json(7)
    assert prices_json(7) == prices_json(7)
    assert stations_json(7) != stations_json(8)


def test_demo_seed_has_the_variety_the_ingestors_must_handle() -> None:
    state = build_seed_state(3, 3000)
    catalog, priced = set(state.stations), set(state.prices)
    assert catalog - priced, "some stations have no prices"
    assert priced - catalog, "some price lists have no catalog entry"
    names = {p.name for prices in state.prices.values() for p in prices}
    assert set(FUELS) <= names
    assert names - set(FUELS), "look-alike spellings appear"
    assert "AI-95" in names or "AI-92" in names or "AI-98" in names
    currencies = {p.currency for prices in state.prices.values() for p in prices}
    assert {"RUB", "RSD", "EUR", "USD", "KZT"} <= currencies
    addresses = [s.address for s in state.stations.values() if s.address]
    assert any("Београд" in a for a in addresses)
    assert any("Novi Sad" in a or "Niš" in a for a in addresses)
    assert any("Россия" in a for a in addresses)
    assert any(s.address is None for s in state.stations.values())
    assert any(s.lon > 90 for s in state.stations.values())


@pytest.mark.parametrize("stations", [0, 1, 4, 5])
def test_demo_small_catalogs_keep_the_samples(stations: int) -> None:
    state = build_seed_state(1, stations)
    assert {1, 2, 3, 4} <= set(state.stations)
    assert len(state.stations) == max(4, stations)

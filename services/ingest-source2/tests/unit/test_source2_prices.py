"""Source 2 records: the contract's samples parse exactly; bad prices are rejected."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fuelhub_common.events import PriceListState
from fuelhub_common.ingestion.records import NonFiniteNumber
from fuelhub_common.ingestion.source import RecordRejectedError
from fuelhub_common.normalize import FuelNameNormalizer
from fuelhub_ingest_source2.prices import PricesAdapter

SAMPLE = Path(__file__).parents[4] / ".." / "shared" / "contracts" / "source2-prices.sample.json"
ADAPTER = PricesAdapter()
NORMALIZE = FuelNameNormalizer()


def parse(record: Any) -> PriceListState:
    _, state = ADAPTER.parse(record, NORMALIZE)
    assert isinstance(state, PriceListState)
    return state


def entry(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"name": "АИ-95", "price": Decimal("54.9"), "currency": "RUB"}
    value.update(overrides)
    return value


def test_contract_samples_parse() -> None:
    records = json.loads(SAMPLE.read_text(), parse_float=Decimal)
    states = [parse(r) for r in records]
    assert [s.station_id for s in states] == [1, 4]
    assert [(p.fuel, p.price, p.currency) for p in states[1].prices] == [
        ("АИ-95", Decimal(200), "RSD"),
        ("АИ-98", Decimal(240), "RSD"),
        ("АИ-95+", Decimal(220), "RSD"),
    ]


def test_fuel_spellings_normalised_and_prices_exact() -> None:
    state = parse({"id": 3, "fuel_prices": [entry(name="аи 95", price=Decimal("54.90"))]})
    assert state.prices[0].fuel == "АИ-95"
    assert str(state.prices[0].price) == "54.9"
    assert parse({"id": 3, "fuel_prices": None}).prices == ()


def test_same_fuel_twice_with_the_same_price_is_one() -> None:
    state = parse({"id": 3, "fuel_prices": [entry(), entry(name="AI-95")]})
    assert len(state.prices) == 1


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"fuel_prices": []}, "missing id"),
        ({"id": 1, "fuel_prices": {}}, "fuel_prices is not a list"),
        ({"id": 1, "fuel_prices": ["x"]}, "fuel price is not an object"),
        ({"id": 1, "fuel_prices": [entry(price=Decimal(-1))]}, "price is not positive"),
        ({"id": 1, "fuel_prices": [entry(price=0)]}, "price is not positive"),
        ({"id": 1, "fuel_prices": [entry(price="54.9")]}, "price is not a number"),
        ({"id": 1, "fuel_prices": [entry(price=None)]}, "price is not a number"),
        (
            {"id": 1, "fuel_prices": [entry(price=NonFiniteNumber("Infinity"))]},
            "price is not a finite number",
        ),
        ({"id": 1, "fuel_prices": [entry(price=Decimal("1e12"))]}, "price out of range"),
        (
            {"id": 1, "fuel_prices": [entry(price=Decimal("54.123456"))]},
            "price has more than 4 decimals",
        ),
        ({"id": 1, "fuel_prices": [entry(currency="RU")]}, "malformed currency"),
        ({"id": 1, "fuel_prices": [entry(currency=None)]}, "malformed currency"),
        ({"id": 1, "fuel_prices": [entry(currency="ZZZ")]}, "unknown currency"),
        ({"id": 1, "fuel_prices": [entry(name="")]}, "fuel name is empty"),
        ({"id": 1, "fuel_prices": [entry(name=5)]}, "fuel name is not a string"),
        (
            {"id": 1, "fuel_prices": [entry(), entry(price=Decimal(60))]},
            "duplicate fuel in price list",
        ),
    ],
)
def test_bad_price_lists_are_rejected_whole(record: Any, reason: str) -> None:
    with pytest.raises(RecordRejectedError) as info:
        parse(record)
    assert info.value.reason == reason


def test_other_iso_currencies_pass() -> None:
    assert parse({"id": 1, "fuel_prices": [entry(currency="kzt")]}).prices[0].currency == "KZT"

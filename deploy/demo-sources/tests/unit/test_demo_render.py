"""Rendering: exact decimals, raw tokens, incremental piece cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from fuelhub_demo_sources.model import FuelPrice, Station
from fuelhub_demo_sources.render import (
    PieceCache,
    RawToken,
    decimal_text,
    dumps,
    join_array,
    price_record,
    station_record,
)
from fuelhub_demo_sources.seed import build_seed_state
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_demo_decimal_renders_with_its_exact_digits(value: Decimal) -> None:
    text = dumps({"price": value}).decode()
    parsed = json.loads(text, parse_float=Decimal)["price"]
    assert Decimal(parsed) == value
    number = text.removeprefix('{"price":').removesuffix("}")
    assert "e" not in number.lower()
    assert not (number.endswith("0") and "." in number), "no trailing zeros"


def test_demo_decimals_render_like_the_contract() -> None:
    assert decimal_text(Decimal("54.90")) == "54.9"
    assert decimal_text(Decimal("100")) == "100"
    assert decimal_text(Decimal("100.00")) == "100"
    assert decimal_text(Decimal("0.10")) == "0.1"
    assert decimal_text(Decimal("-0.00")) == "0"
    assert dumps([Decimal("0.1") + Decimal("0.2")]) == b"[0.3]"


def test_demo_raw_tokens_are_written_verbatim() -> None:
    assert dumps({"c": [RawToken("NaN"), RawToken("Infinity")]}) == b'{"c":[NaN,Infinity]}'


def test_demo_records_have_the_contract_shape() -> None:
    station = Station(7, 55.5, 37.25, 3, None, ("https://x/y",), ("Мойка",))
    assert json.loads(dumps(station_record(7, station))) == {
        "id": 7,
        "coordinates": [55.5, 37.25],
        "number": 3,
        "address": None,
        "image_urls": ["https://x/y"],
        "additional_services": ["Мойка"],
    }
    prices = (FuelPrice("АИ-95", Decimal("54.90"), "RUB"),)
    assert dumps(price_record(7, prices)).decode() == (
        '{"id":7,"fuel_prices":[{"name":"АИ-95","price":54.9,"currency":"RUB"}]}'
    )


def test_demo_piece_cache_matches_a_fresh_render_after_changes() -> None:
    state = build_seed_state(1, 200)
    cache = PieceCache[Station](station_record)
    cache.refresh(state.stations, state.dirty_stations)
    victim = next(i for i in state.stations if i > 4)
    state.remove_station(victim, NOW)
    state.put_station(Station(victim, 1.0, 2.0, 3, "новый", (), ()), NOW)
    state.put_station(Station(10_000, 1.0, 2.0, 3, None, (), ()), NOW)
    state.remove_station(5 if victim != 5 else 6, NOW)
    cache.refresh(state.stations, state.dirty_stations)
    fresh = PieceCache[Station](station_record)
    fresh.refresh(state.stations, set())
    assert join_array(cache.pieces()) == join_array(fresh.pieces())
    assert cache.ids == sorted(state.stations)
    assert not state.dirty_stations

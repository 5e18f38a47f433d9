"""Malformed records and broken bodies are exactly what they say."""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal
from typing import Any

import pytest
from fuelhub_demo_sources.faults import (
    KINDS_FOR,
    HugeBody,
    MalformedFault,
    MalformedKind,
    corrupt,
    corrupt_pieces,
    drop_share,
    pick,
)
from fuelhub_demo_sources.model import FuelPrice, Station
from fuelhub_demo_sources.render import dumps, price_record, station_record

STATION = station_record(
    10, Station(10, 43.1, 131.9, 7, "ул. Ленина, 1, Владивосток", ("https://i/1",), ("Мойка",))
)
PRICES = price_record(10, (FuelPrice("АИ-95", Decimal("57.30"), "RUB"),))


def roundtrip(record: dict[str, Any]) -> Any:
    # Python's json accepts NaN/Infinity tokens, so it can show what a lenient parser sees.
    return json.loads(dumps(record), parse_float=Decimal)


def bad(record: dict[str, Any], kind: MalformedKind) -> Any:
    return roundtrip(corrupt(record, kind, other_id=99, huge_length=5000))


def test_demo_every_kind_applies_to_its_endpoint_and_leaves_the_original_alone() -> None:
    for kind in KINDS_FOR["stations"]:
        assert bad(STATION, kind) != roundtrip(STATION), kind
    for kind in KINDS_FOR["prices"]:
        assert bad(PRICES, kind) != roundtrip(PRICES), kind
    assert STATION["coordinates"] == [43.1, 131.9]
    assert PRICES["fuel_prices"][0]["price"] == Decimal("57.30")


def test_demo_station_kinds() -> None:
    assert "id" not in bad(STATION, MalformedKind.MISSING_ID)
    assert bad(STATION, MalformedKind.WRONG_ID_TYPE)["id"] == "st-10"
    assert bad(STATION, MalformedKind.DUPLICATE_ID)["id"] == 99
    wrong = bad(STATION, MalformedKind.WRONG_TYPES)
    assert isinstance(wrong["number"], str)
    assert isinstance(wrong["additional_services"], str)
    assert wrong["image_urls"] is None
    assert bad(STATION, MalformedKind.NULL_COORDINATES)["coordinates"] is None
    lat, lon = bad(STATION, MalformedKind.OUT_OF_RANGE_COORDINATES)["coordinates"]
    assert abs(lat) > 90
    assert abs(lon) > 180
    assert bad(STATION, MalformedKind.SWAPPED_COORDINATES)["coordinates"] == [
        Decimal("131.9"),
        Decimal("43.1"),
    ]
    assert b"[NaN,Infinity]" in dumps(
        corrupt(STATION, MalformedKind.NAN_COORDINATES, other_id=1, huge_length=1)
    )
    nan_lat, inf_lon = bad(STATION, MalformedKind.NAN_COORDINATES)["coordinates"]
    assert math.isnan(nan_lat)
    assert math.isinf(inf_lon)
    assert len(bad(STATION, MalformedKind.HUGE_STRING)["address"]) == 5000
    odd = bad(STATION, MalformedKind.ODD_UNICODE)["address"]
    assert "\u202e" in odd
    assert "\u0000" in odd
    assert "\u200b" in odd


def test_demo_price_kinds() -> None:
    def first(kind: MalformedKind) -> Any:
        return bad(PRICES, kind)["fuel_prices"][0]

    assert first(MalformedKind.NULL_PRICE)["price"] is None
    assert first(MalformedKind.NEGATIVE_PRICE)["price"] == Decimal("-57.3")
    assert first(MalformedKind.ZERO_PRICE)["price"] == 0
    assert isinstance(first(MalformedKind.NON_NUMERIC_PRICE)["price"], str)
    assert b'"price":NaN' in dumps(
        corrupt(PRICES, MalformedKind.NAN_PRICE, other_id=1, huge_length=1)
    )
    assert first(MalformedKind.UNKNOWN_CURRENCY)["currency"] == "QQQ"
    assert first(MalformedKind.MALFORMED_CURRENCY)["currency"] == "руб."
    assert isinstance(bad(PRICES, MalformedKind.WRONG_TYPES)["fuel_prices"], dict)
    assert len(first(MalformedKind.HUGE_STRING)["name"]) == 5000
    assert bad(PRICES, MalformedKind.MISSING_ID).keys() == {"fuel_prices"}


@pytest.mark.parametrize("kind", [MalformedKind.NULL_COORDINATES, MalformedKind.NAN_COORDINATES])
def test_demo_station_only_kinds_refuse_price_records(kind: MalformedKind) -> None:
    with pytest.raises((ValueError, KeyError)):
        corrupt(PRICES, kind, other_id=1, huge_length=1)


def test_demo_pick_count_and_fraction() -> None:
    rng = random.Random(1)
    assert len(pick(100, rng, count=7, fraction=None)) == 7
    assert len(pick(100, rng, count=None, fraction=0.25)) == 25
    assert len(pick(3, rng, count=10, fraction=None)) == 3
    chosen = pick(100, rng, count=10, fraction=None)
    assert chosen == sorted(set(chosen))


def test_demo_corrupt_pieces_reports_each_record_and_kind() -> None:
    ids = list(range(1, 21))
    records = {i: price_record(i, (FuelPrice("ДТ", Decimal(60), "RUB"),)) for i in ids}
    pieces = [dumps(records[i]) for i in ids]
    fault = MalformedFault(kinds=(MalformedKind.ZERO_PRICE, MalformedKind.MISSING_ID), count=4)
    out, report = corrupt_pieces(ids, pieces, records.__getitem__, fault, random.Random(3))
    assert [k for _, k in report] == [MalformedKind.ZERO_PRICE, MalformedKind.MISSING_ID] * 2
    changed = [n for n, (a, b) in enumerate(zip(pieces, out, strict=True)) if a != b]
    assert [ids[n] for n in changed] == [i for i, _ in report]
    body = [json.loads(p) for p in out]
    assert sum("id" not in r for r in body) == 2
    assert sum(r.get("fuel_prices", [{}])[0].get("price") == 0 for r in body) == 2


def test_demo_drop_share_keeps_order_and_the_stated_share() -> None:
    ids = list(range(200))
    kept_ids, kept, dropped = drop_share(ids, [b"%d" % i for i in ids], 0.5, random.Random(1))
    assert dropped == 100
    assert len(kept_ids) == 100
    assert kept_ids == sorted(kept_ids)
    assert kept == [b"%d" % i for i in kept_ids]


@pytest.mark.parametrize("size", [0, 1, 2, 100, 2_000_000])
def test_demo_huge_body_length_is_exact(size: int) -> None:
    huge = HugeBody(STATION, size, chunk_bytes=50_000)
    body = b"".join(huge)
    assert len(body) == len(huge)
    assert len(body) >= size
    assert json.loads(body) == [] or len(body) - size < 300


def test_demo_huge_body_is_valid_json_of_the_stated_size_in_small_chunks() -> None:
    chunks = list(HugeBody(STATION, 2_000_000, chunk_bytes=50_000))
    assert max(len(c) for c in chunks) < 51_000
    body = b"".join(chunks)
    assert 2_000_000 <= len(body) < 2_002_000
    records = json.loads(body)
    assert len({r["id"] for r in records}) == len(records)
    assert records[0]["coordinates"] == STATION["coordinates"]

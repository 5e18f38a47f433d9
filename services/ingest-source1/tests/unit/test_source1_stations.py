"""Source 1 records: the contract's samples parse; each kind of bad record is rejected."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fuelhub_common.events import StationState
from fuelhub_common.ingestion.records import NonFiniteNumber
from fuelhub_common.ingestion.source import RecordRejectedError
from fuelhub_common.normalize import FuelNameNormalizer
from fuelhub_ingest_source1.stations import StationsAdapter

SAMPLE = Path(__file__).parents[4] / ".." / "shared" / "contracts" / "source1-stations.sample.json"
ADAPTER = StationsAdapter()
NORMALIZE = FuelNameNormalizer()


def parse(record: Any) -> StationState:
    _, state = ADAPTER.parse(record, NORMALIZE)
    assert isinstance(state, StationState)
    return state


def good(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 7,
        "coordinates": [Decimal("55.797817"), Decimal("49.130638")],
        "number": 7,
        "address": "ул. Федосеевская, 36",
        "image_urls": ["https://example.org/a.png"],
        "additional_services": ["Мойка", " мойка ", "Пылесос"],
    }
    record.update(overrides)
    return record


def test_contract_samples_parse() -> None:
    records = json.loads(SAMPLE.read_text(), parse_float=Decimal)
    states = [parse(r) for r in records]
    assert [s.id for s in states] == [1, 2, 3, 4]
    assert states[0].latitude == Decimal("55.797817")
    assert states[0].services[0] == "Замена шин"
    assert states[2].image_urls == ()
    assert states[3].address == "Трг републике 3, Београд, Центр"


def test_services_normalised_and_nulls_tolerated() -> None:
    state = parse(good(image_urls=None, additional_services=["Мойка", " мойка ", "Пылесос"]))
    assert state.services == ("Мойка", "Пылесос")
    assert state.image_urls == ()
    assert parse(good(address=None)).address is None


def test_coordinates_canonical_so_noise_is_not_a_change() -> None:
    a = parse(good(coordinates=[Decimal("55.79781700"), Decimal("49.1306380000001")]))
    b = parse(good(coordinates=[Decimal("55.797817"), Decimal("49.130638")]))
    assert a == b


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("not an object", "record is not an object"),
        (good(id=None), "missing id"),
        (good(id="7"), "id is not an integer"),
        (good(id=True), "id is not an integer"),
        (good(id=0), "id out of range"),
        (good(coordinates=None), "coordinates are not a [lat, lon] pair"),
        (good(coordinates=[1]), "coordinates are not a [lat, lon] pair"),
        (good(coordinates=[Decimal("91"), Decimal("10")]), "coordinates out of range"),
        (good(coordinates=[Decimal("10"), Decimal("-181")]), "coordinates out of range"),
        (good(coordinates=["55.1", Decimal("10")]), "latitude is not a number"),
        (
            good(coordinates=[NonFiniteNumber("NaN"), Decimal("10")]),
            "latitude is not a finite number",
        ),
        (good(number=-1), "number out of range"),
        (good(number="x"), "number is not an integer"),
        (good(address="x" * 5000), "address too long"),
        (good(address=12), "address is not a string"),
        (good(image_urls="http://x"), "image_urls is not a list"),
        (good(additional_services=[1, 2]), "additional_services is not a string"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(record: Any, reason: str) -> None:
    with pytest.raises(RecordRejectedError) as info:
        parse(record)
    assert info.value.reason == reason


def test_odd_unicode_is_cleaned() -> None:
    state = parse(good(address="Улица\u200b Ленина\x00 1\u0301"))
    assert state.address is not None
    assert "\x00" not in state.address
    assert "\u200b" not in state.address

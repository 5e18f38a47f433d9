import io
from decimal import Decimal

import pytest
from fuelhub_common.ingestion.records import (
    BadBodyError,
    NonFiniteNumber,
    NonFiniteTokensError,
    iter_records,
    iter_records_lenient,
)


def records(body: bytes) -> list[object]:
    return list(iter_records(io.BytesIO(body)))


def test_numbers_are_exact_decimals() -> None:
    assert records(b' [{"price": 54.9}, {"price": 100}]') == [
        {"price": Decimal("54.9")},
        {"price": 100},
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"<html>oops</html>", "not a JSON array"),
        (b'{"stations": []}', "not a JSON array"),
        (b'[{"id": 1}, {"id": ', "not valid JSON"),
    ],
)
def test_bad_bodies_fail_the_poll(body: bytes, message: str) -> None:
    with pytest.raises(BadBodyError, match=message):
        records(body)


def test_nan_tokens_ask_for_a_lenient_reread() -> None:
    body = io.BytesIO(b'[{"id": 1, "price": 10}, {"id": 2, "price": NaN}]')
    with pytest.raises(NonFiniteTokensError):
        list(iter_records(body))
    items = list(iter_records_lenient(body))
    assert items[0] == {"id": 1, "price": 10}
    assert isinstance(items[1]["price"], NonFiniteNumber)

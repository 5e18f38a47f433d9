"""Query parsing, cursors, base URLs, page assembly and the version cache: no I/O."""

from __future__ import annotations

import contextlib
import ipaddress
from decimal import Decimal

import orjson
import pytest
from fuelhub_api.cursors import Keyset, SyncCursor, parse_keyset, parse_sync_cursor
from fuelhub_api.errors import ParamError
from fuelhub_api.pages import absolutize_icons, envelope
from fuelhub_api.params import (
    MAX_LIMIT,
    parse_bbox,
    parse_limit,
    parse_offset,
    parse_station_filter,
)
from fuelhub_api.state import PageCache, etag_for
from fuelhub_api.urls import page_link, public_base
from hypothesis import given
from hypothesis import strategies as st

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 100),
        ("", 100),
        ("0", 100),
        ("1", 1),
        ("1000", 1000),
        ("1001", 1000),
        ("+5", 5),
        ("9" * 50, 1000),
    ],
)
def test_limit_defaults_and_clamps(raw: str | None, expected: int) -> None:
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "-100", "abc", "1.0", "1e3", " 5", "５", "0x10", "+"])
def test_limit_refuses_non_integers_and_negatives(raw: str) -> None:
    with pytest.raises(ParamError, match="limit"):
        parse_limit(raw)


@given(st.text(max_size=30))
def test_limit_and_offset_never_raise_anything_but_param_error(raw: str) -> None:
    for parse in (parse_limit, parse_offset):
        try:
            value = parse(raw)
        except ParamError:
            continue
        assert value >= 0
    with contextlib.suppress(ParamError):
        assert 1 <= parse_limit(raw) <= MAX_LIMIT


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "limit",
                "fuel",
                "bbox",
                "near",
                "radius_km",
                "currency",
                "sort",
                "after",
                "since",
                "updated_since",
            ]
        ),
        st.text(max_size=40),
    )
)
def test_station_filter_only_raises_param_error(single: dict[str, str]) -> None:
    message = ""
    try:
        parse_station_filter(single, [])
    except ParamError as exc:
        message = str(exc)
        assert message


def test_bbox_parsing() -> None:
    box = parse_bbox("55.5,37.3,56,37.9")
    assert (box.min_lat, box.min_lon, box.max_lat, box.max_lon) == (55.5, 37.3, 56.0, 37.9)
    for bad in ("1,2,3", "a,b,c,d", "inf,0,1,1", "1_0,0,20,1", "0,0,-1,1"):
        with pytest.raises(ParamError):
            parse_bbox(bad)


def test_sync_cursor_round_trip_and_refusals() -> None:
    assert parse_sync_cursor("42") == SyncCursor(42)
    assert parse_sync_cursor(SyncCursor(7, 9).text()) == SyncCursor(7, 9)
    assert SyncCursor(7, 9).after_seq() == 6
    assert SyncCursor(7).after_seq() == 7
    for bad in ("", "-1", "1.2.3", "x", "99999999999999999999"):
        with pytest.raises(ParamError):
            parse_sync_cursor(bad)


def test_keyset_round_trips_per_sort() -> None:
    for key in (
        Keyset("id", 5),
        Keyset("number", 5, number=12),
        Keyset("price", 5, currency="RUB", price=Decimal("54.9000")),
        Keyset("distance", 5, distance=1234.5678901234),
    ):
        assert parse_keyset(key.text(), key.sort) == key
    with pytest.raises(ParamError, match="same sort"):
        parse_keyset(Keyset("id", 5).text(), "number")


def test_public_base_trusts_forwarded_headers_only_from_trusted_peers() -> None:
    headers = {
        "x-forwarded-proto": "https",
        "x-forwarded-host": "fuel.example:8443",
        "x-forwarded-prefix": "/gw/",
    }
    common = {
        "scheme": "http",
        "host": "127.0.0.1:8002",
        "fallback_host": "h:1",
        "headers": headers,
        "trusted": LOOPBACK,
    }
    assert public_base(peer="127.0.0.1", **common) == "https://fuel.example:8443/gw"  # type: ignore[arg-type]
    assert public_base(peer="10.1.2.3", **common) == "http://127.0.0.1:8002"  # type: ignore[arg-type]
    forged = {**common, "host": 'evil"}', "headers": {}}
    assert public_base(peer="10.1.2.3", **forged) == "http://h:1"  # type: ignore[arg-type]


def test_page_link_encodes_values() -> None:
    assert page_link("http://h", "/p", [("fuel", "АИ-95"), ("limit", 2)]) == (
        "http://h/p?fuel=%D0%90%D0%98-95&limit=2"
    )


def test_envelope_and_icons() -> None:
    docs = b'{"id":1,"fuels":[{"fuel_type":{"icon":"/media/a.png"}}],"address":"\\"icon\\":\\"/x"}'
    body = envelope({"count": 1, "next": None}, docs, "https://g.example")
    parsed = orjson.loads(body)
    assert parsed["results"][0]["fuels"][0]["fuel_type"]["icon"] == "https://g.example/media/a.png"
    assert parsed["results"][0]["address"] == '"icon":"/x'  # text inside strings is untouched
    assert orjson.loads(envelope({}, b"", "http://h")) == {"results": []}
    assert absolutize_icons(b'{"icon":null}', "http://h") == b'{"icon":null}'


def test_page_cache_drops_old_versions() -> None:
    cache = PageCache(2)
    cache.put(1, ("a",), "one")
    assert cache.get(1, ("a",)) == "one"
    assert cache.get(2, ("a",)) is None
    cache.put(2, ("b",), "two")
    assert cache.get(1, ("a",)) is None
    cache.put(1, ("a",), "stale")  # a slow request of an older version is not stored
    assert cache.get(2, ("a",)) is None
    cache.put(2, ("c",), 3)
    cache.put(2, ("d",), 4)
    assert cache.get(2, ("b",)) is None  # LRU bound
    assert etag_for(2, "x") != etag_for(3, "x")

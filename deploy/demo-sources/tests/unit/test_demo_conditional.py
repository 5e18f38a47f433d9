"""Conditional GET decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fuelhub_demo_sources.conditional import http_date, is_not_modified
from fuelhub_demo_sources.model import DemoState

MODIFIED = datetime(2026, 11, 27, 7, 0, 0, tzinfo=UTC)
ETAG = '"abc"'


def check(inm: str | None = None, ims: str | None = None) -> bool:
    return is_not_modified(
        etag=ETAG, last_modified=MODIFIED, if_none_match=inm, if_modified_since=ims
    )


def test_demo_etag_match_and_mismatch() -> None:
    assert check(inm='"abc"')
    assert check(inm='W/"abc"')
    assert check(inm='"x", "abc"')
    assert check(inm="*")
    assert not check(inm='"abd"')
    assert not check()


def test_demo_if_modified_since() -> None:
    assert check(ims=http_date(MODIFIED))
    assert check(ims=http_date(MODIFIED + timedelta(hours=1)))
    assert not check(ims=http_date(MODIFIED - timedelta(seconds=1)))
    assert not check(ims="not a date")


def test_demo_etag_mismatch_wins_over_a_fresh_date() -> None:
    assert not check(inm='"old"', ims=http_date(MODIFIED + timedelta(days=1)))


def test_demo_last_modified_moves_on_every_change_even_within_one_second() -> None:
    state = DemoState()
    now = MODIFIED + timedelta(microseconds=100)
    state.remove_prices(1, now)  # nothing there: no change
    assert state.prices_version == 0
    dates = []
    for _ in range(3):
        state.put_prices(1, (), now)
        dates.append(state.prices_modified)
    assert dates[0] == MODIFIED
    assert dates[0] < dates[1] < dates[2]
    assert state.stations_version == 0

"""Merging parts and decoding bodies (pure: no database, no broker)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fuelhub_store.changeset import (
    ChangeSet,
    InconsistentChangeSetError,
    Part,
    PartHeader,
    merge_headers,
    merge_parts,
    part_from_model,
    part_from_stored_json,
)
from fuelhub_store.codec import UndecodableMessageError, decode
from fuelhub_store.testing import change_set, price_list, station, station_deleted

T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def _station_ids(cs: ChangeSet) -> list[int]:
    return [r[0] async for part in cs.each_part() for r in part.station_rows]


async def test_parts_merge_in_part_order_with_kept_ids() -> None:
    parts = change_set([station(i, T0) for i in range(1, 7)], T0, parts=3, kept_ids=[9])
    merged = merge_parts([parts[2], parts[0], parts[1]])
    assert await _station_ids(merged) == [1, 2, 3, 4, 5, 6]
    assert merged.kept_ids == (9,)
    assert merged.kind == "stations"
    assert merged.parts == 3
    assert merged.size == 6


async def test_a_merged_set_loads_one_part_at_a_time_in_part_order() -> None:
    parts = [part_from_model(p) for p in change_set([station(i, T0) for i in range(1, 7)], T0,
                                                     parts=3)]  # fmt: skip
    loaded: list[int] = []
    live: list[int] = []

    async def load(number: int) -> Part:
        loaded.append(number)
        return parts[number - 1]

    merged = merge_headers([parts[1].header, parts[2].header, parts[0].header], load)
    assert loaded == []  # merging reads headers only
    async for part in merged.each_part():
        live.append(len(loaded))
        assert part.station_rows[0][0] == 2 * part.header.part - 1
    assert loaded == [1, 2, 3]
    assert live == [1, 2, 3]  # each part was loaded only when its turn came


def test_a_header_survives_its_json() -> None:
    event = change_set([station(i, T0) for i in range(1, 5)], T0, parts=2, kept_ids=[7, 8],
                       snapshot=True)[1]  # fmt: skip
    header = part_from_model(event).header
    assert PartHeader.from_json(header.to_json()) == header
    assert header.size == 2
    assert header.kept_ids == (7, 8)


def test_missing_or_foreign_parts_are_refused() -> None:
    parts = change_set([station(i, T0) for i in range(1, 7)], T0, parts=3)
    with pytest.raises(InconsistentChangeSetError, match="do not make"):
        merge_parts(parts[:2])
    other = change_set([station(1, T0)], T0, parts=3, change_set_id=uuid.uuid4())
    with pytest.raises(InconsistentChangeSetError, match="disagrees"):
        merge_parts([parts[0], parts[1], other[2]])


def test_stored_json_gives_the_same_rows_as_the_model() -> None:
    stations = change_set([station(1, T0, address=None, image_urls=("u",)),
                           station_deleted(2, T0)], T0)[0]  # fmt: skip
    prices = change_set([price_list(3, T0, [("АИ-95", "54.90", "RUB")])], T0, prices=True)[0]
    for event in (stations, prices):
        assert part_from_stored_json(event.model_dump_json()) == part_from_model(event)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "Invalid JSON"),
        (b'{"type": "stations.changed"}', "event_id"),
        (b'{"type": "teleport.v9"}', "does not match any of the expected tags"),
    ],
)
def test_undecodable_bodies_say_why(body: bytes, fragment: str) -> None:
    with pytest.raises(UndecodableMessageError) as info:
        decode(body)
    assert fragment in str(info.value)


def test_a_valid_event_decodes() -> None:
    part = change_set([station(1, T0)], T0)[0]
    assert decode(part.model_dump_json()) == part

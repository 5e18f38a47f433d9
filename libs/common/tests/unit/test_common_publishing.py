import uuid
from datetime import UTC, datetime
from decimal import Decimal

from fuelhub_common.events import (
    FuelPrice,
    PriceListState,
    PriceListUpserted,
    PricesChanged,
    Source,
    part_event_id,
)
from fuelhub_common.publishing import encode_change_set

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def change(station_id: int) -> bytes:
    state = PriceListState(
        station_id=station_id,
        prices=(FuelPrice(fuel="АИ-95", price=Decimal("54.9"), currency="RUB"),),
    )
    return PriceListUpserted(id=station_id, version=T0, state=state).model_dump_json().encode()


def test_parts_validate_as_the_model_and_keep_every_change() -> None:
    change_set_id = uuid.uuid4()
    changes = [change(i) for i in range(1, 501)]
    parts = encode_change_set(
        model=PricesChanged,
        source=Source.SOURCE2,
        change_set_id=change_set_id,
        observed_at=T0,
        snapshot=True,
        changes=changes,
        kept_ids=[9999],
        max_part_bytes=16 * 1024,
    )
    assert len(parts) > 1
    decoded = [PricesChanged.model_validate_json(p.body) for p in parts]
    assert [d.part for d in decoded] == list(range(1, len(parts) + 1))
    assert {d.parts for d in decoded} == {len(parts)}
    assert {d.change_set_id for d in decoded} == {change_set_id}
    assert [c.id for d in decoded for c in d.changes] == list(range(1, 501))
    assert all(len(p.body) <= 16 * 1024 + 1024 for p in parts)
    assert decoded[-1].kept_ids == (9999,)
    assert all(d.kept_ids == () for d in decoded[:-1])
    assert decoded[0].changes[0].state.prices[0].price == Decimal("54.9")  # type: ignore[union-attr]
    assert [p.event_id for p in parts] == [
        part_event_id(change_set_id, n) for n in range(1, len(parts) + 1)
    ]


def test_empty_snapshot_is_one_empty_part() -> None:
    parts = encode_change_set(
        model=PricesChanged,
        source=Source.SOURCE2,
        change_set_id=uuid.uuid4(),
        observed_at=T0,
        snapshot=True,
        changes=[],
    )
    assert len(parts) == 1
    assert PricesChanged.model_validate_json(parts[0].body).changes == ()


def test_event_ids_are_deterministic_per_part() -> None:
    change_set_id = uuid.uuid4()
    assert part_event_id(change_set_id, 1) == part_event_id(change_set_id, 1)
    assert part_event_id(change_set_id, 1) != part_event_id(change_set_id, 2)

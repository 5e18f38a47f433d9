"""Change detection: snapshot first, then only what changed; the guard on deletions."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from fuelhub_common.events import StationDeleted, StationState, StationUpserted
from fuelhub_common.guard import GuardPolicy
from fuelhub_common.ingestion.changes import ChangePlan, ChangeTracker

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def station(station_id: int, address: str = "a") -> StationState:
    return StationState(
        id=station_id,
        latitude=Decimal("55.1"),
        longitude=Decimal("49.2"),
        number=station_id,
        address=address,
    )


def poll(
    tracker: ChangeTracker,
    stations: list[StationState],
    at: datetime,
    rejected: tuple[int, ...] = (),
) -> ChangePlan:
    builder = tracker.begin(at)
    for state in stations:
        builder.accept(state.id, state)
    for entity_id in rejected:
        builder.reject("bad", entity_id)
    return builder.finish()


def ops(plan: ChangePlan) -> dict[int, str]:
    """Each change's op by id; every change must validate as the contract's model."""
    result = {}
    for change in plan.changes:
        model = StationUpserted if orjson.loads(change)["op"] == "upsert" else StationDeleted
        parsed = model.model_validate_json(change)
        assert parsed.version == plan.observed_at
        result[parsed.id] = parsed.op
    return result


def test_first_poll_is_a_snapshot_of_everything_then_only_deltas() -> None:
    tracker = ChangeTracker(GuardPolicy())
    first = poll(tracker, [station(i) for i in range(1, 11)], T0)
    assert first.snapshot
    assert ops(first) == dict.fromkeys(range(1, 11), "upsert")
    tracker.commit(first)

    same = poll(tracker, [station(i) for i in range(1, 11)], T0 + timedelta(minutes=5))
    assert not same.snapshot
    assert same.changes == []
    assert not same.publishable
    tracker.commit(same)

    changed = [station(i) for i in range(1, 11)]
    changed[2] = station(3, address="new address")
    delta = poll(tracker, changed, T0 + timedelta(minutes=10))
    assert ops(delta) == {3: "upsert"}
    body = orjson.loads(delta.changes[0])
    assert body["state"]["address"] == "new address"
    assert body["version"].startswith("2026-01-01T00:10:00")


def test_uncommitted_plan_is_recomputed_next_poll() -> None:
    tracker = ChangeTracker(GuardPolicy())
    first = poll(tracker, [station(1)], T0)
    # Not committed (the broker did not confirm): the next poll is still a full snapshot.
    again = poll(tracker, [station(1)], T0 + timedelta(minutes=5))
    assert again.snapshot
    assert ops(again) == {1: "upsert"}
    assert first.change_set_id != again.change_set_id


def test_ordinary_removal_becomes_a_tombstone() -> None:
    tracker = ChangeTracker(GuardPolicy())
    tracker.commit(poll(tracker, [station(i) for i in range(1, 11)], T0))
    plan = poll(tracker, [station(i) for i in range(1, 10)], T0 + timedelta(minutes=5))
    assert ops(plan) == {10: "delete"}
    assert plan.deletions == 1
    tracker.commit(plan)
    assert 10 not in tracker.hashes


def test_empty_source_is_held_until_confirmed_three_times() -> None:
    tracker = ChangeTracker(GuardPolicy(confirmations=3))
    tracker.commit(poll(tracker, [station(i) for i in range(1, 6)], T0))
    for n in (1, 2):
        plan = poll(tracker, [], T0 + timedelta(minutes=5 * n))
        assert plan.changes == []
        assert plan.held == [1, 2, 3, 4, 5]
        tracker.commit(plan)
        assert len(tracker.hashes) == 5
    plan = poll(tracker, [], T0 + timedelta(minutes=15))
    assert ops(plan) == dict.fromkeys(range(1, 6), "delete")
    assert plan.held == []


def test_truncated_source_then_recovery_deletes_nothing_and_republishes_held() -> None:
    tracker = ChangeTracker(GuardPolicy())
    everything = [station(i) for i in range(1, 11)]
    tracker.commit(poll(tracker, everything, T0))
    half = poll(tracker, everything[:5], T0 + timedelta(minutes=5))
    assert half.changes == []
    assert half.held == [6, 7, 8, 9, 10]
    tracker.commit(half)
    back = poll(tracker, everything, T0 + timedelta(minutes=10))
    # Re-sent although unchanged: an admin may have approved their deletion meanwhile.
    assert ops(back) == dict.fromkeys(range(6, 11), "upsert")
    tracker.commit(back)
    assert tracker.counters == {}


def test_duplicate_ids_keep_the_previous_state() -> None:
    tracker = ChangeTracker(GuardPolicy())
    tracker.commit(poll(tracker, [station(1), station(2)], T0))
    plan = poll(
        tracker, [station(1, "x"), station(1, "y"), station(2, "z")], T0 + timedelta(minutes=5)
    )
    assert ops(plan) == {2: "upsert"}
    assert plan.stats.rejections["duplicate id in payload"] == 2
    assert plan.stats.records_accepted == 1
    assert plan.kept_ids == [1]
    tracker.commit(plan)
    assert 1 in tracker.hashes


def test_rejected_record_is_kept_not_deleted() -> None:
    tracker = ChangeTracker(GuardPolicy())
    tracker.commit(poll(tracker, [station(i) for i in range(1, 4)], T0))
    plan = poll(tracker, [station(1), station(2)], T0 + timedelta(minutes=5), rejected=(3,))
    assert plan.changes == []
    assert plan.kept_ids == [3]
    assert plan.stats.records_rejected == 1


def test_periodic_snapshot() -> None:
    tracker = ChangeTracker(GuardPolicy(), snapshot_every=3)
    kinds = []
    for n in range(7):
        plan = poll(tracker, [station(1)], T0 + timedelta(minutes=n))
        kinds.append(plan.snapshot)
        tracker.commit(plan)
    assert kinds == [True, False, False, True, False, False, True]


def test_a_record_without_a_usable_id_holds_the_absences_of_its_poll() -> None:
    tracker = ChangeTracker(GuardPolicy())
    tracker.commit(poll(tracker, [station(i) for i in range(1, 11)], T0))
    builder = tracker.begin(T0 + timedelta(minutes=5))
    for i in range(2, 11):  # station 1's record came without its id
        builder.accept(i, station(i))
    builder.reject("missing id")
    plan = builder.finish()
    assert plan.deletions == 0
    assert plan.held == [1]
    assert plan.unidentified == 1
    assert ops(plan) == {}
    # A duplicated id hides another station's record the same way.
    builder = tracker.begin(T0 + timedelta(minutes=10))
    for i in range(3, 11):
        builder.accept(i, station(i))
    builder.accept(3, station(2, address="2's record under 3's id"))
    duplicated = builder.finish()
    assert duplicated.deletions == 0
    assert set(duplicated.held) == {1, 2}
    assert duplicated.unidentified == 1

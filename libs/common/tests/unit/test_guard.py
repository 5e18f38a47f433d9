from decimal import Decimal

import pytest
from fuelhub_common.guard import GuardPolicy, decide_deletions
from hypothesis import given
from hypothesis import strategies as st

POLICY = GuardPolicy(max_share=Decimal("0.2"), confirmations=3)


def test_ordinary_churn_is_deleted_at_once() -> None:
    decision = decide_deletions(
        known=100, absent={1, 2}, previous_counters={}, present=98, policy=POLICY
    )
    assert decision.delete == {1, 2}
    assert decision.held == frozenset()
    assert not decision.mass


def test_empty_source_holds_everything() -> None:
    decision = decide_deletions(
        known=3, absent={1, 2, 3}, previous_counters={}, present=0, policy=POLICY
    )
    assert decision.delete == frozenset()
    assert decision.held == {1, 2, 3}
    assert decision.counters == {1: 1, 2: 1, 3: 1}
    assert decision.mass


def test_share_above_threshold_is_held_until_confirmed() -> None:
    absent = set(range(30))
    counters: dict[int, int] = {}
    for _ in range(2):
        decision = decide_deletions(
            known=100, absent=absent, previous_counters=counters, present=70, policy=POLICY
        )
        assert decision.delete == frozenset()
        counters = decision.counters
    decision = decide_deletions(
        known=100, absent=absent, previous_counters=counters, present=70, policy=POLICY
    )
    assert decision.delete == absent
    assert decision.counters == {}


def test_share_exactly_at_threshold_is_churn() -> None:
    decision = decide_deletions(
        known=10, absent={1, 2}, previous_counters={}, present=8, policy=POLICY
    )
    assert decision.delete == {1, 2}


def test_reappearance_resets_the_counter() -> None:
    decision = decide_deletions(
        known=10, absent={1, 2, 3}, previous_counters={1: 2, 4: 2}, present=7, policy=POLICY
    )
    assert decision.counters == {2: 1, 3: 1}
    assert decision.delete == {1}


def test_approval_deletes_despite_mass() -> None:
    decision = decide_deletions(
        known=3, absent={1, 2, 3}, previous_counters={}, present=0, policy=POLICY, approved={2, 9}
    )
    assert decision.delete == {2}
    assert decision.held == {1, 3}


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_share"):
        GuardPolicy(max_share=Decimal("1.5"))
    with pytest.raises(ValueError, match="confirmations"):
        GuardPolicy(confirmations=0)


@given(
    known=st.integers(min_value=0, max_value=200),
    absent=st.sets(st.integers(min_value=0, max_value=300), max_size=200),
    present=st.integers(min_value=0, max_value=200),
)
def test_every_absence_is_either_deleted_or_held(
    known: int, absent: set[int], present: int
) -> None:
    decision = decide_deletions(
        known=known, absent=absent, previous_counters={}, present=present, policy=POLICY
    )
    assert decision.delete | decision.held == absent
    assert not decision.delete & decision.held
    assert set(decision.counters) == set(decision.held)


def test_incomplete_observation_holds_even_ordinary_churn() -> None:
    # A record without a usable id may be any of the absent entities: none is surely gone.
    decision = decide_deletions(
        known=100, absent={1}, previous_counters={}, present=99, policy=POLICY, incomplete=True
    )
    assert decision.delete == frozenset()
    assert decision.held == {1}
    assert decision.mass

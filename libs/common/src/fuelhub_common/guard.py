"""The mass-deletion guard: one pure function, used wherever absences become deletions.

An upstream that suddenly returns an empty list, or drops a large share of what it had, is far
more often broken than right. Deleting on such a poll would wipe the data clients rely on, so
those deletions are *held* until the same absence has been seen in ``confirmations``
consecutive observations (polls or snapshots) — or a person approves them.

The function is pure: the caller keeps the absence counters (the ingestor in memory, the store
in Postgres) and applies the decision.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """When a set of absences is 'mass' and how long mass absences are held."""

    max_share: Decimal = Decimal("0.2")
    """Absences above this share of known entities in one observation are held back."""
    confirmations: int = 3
    """Consecutive observations of the same absence after which it is applied anyway."""

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.max_share <= Decimal(1):
            raise ValueError("max_share must be between 0 and 1")
        if self.confirmations < 1:
            raise ValueError("confirmations must be at least 1")


@dataclass(frozen=True, slots=True)
class GuardDecision(Generic[K]):
    delete: frozenset[K]
    """Absences to apply now."""
    held: frozenset[K]
    """Absences held back (mass deletion not yet confirmed)."""
    counters: dict[K, int] = field(default_factory=dict)
    """The new consecutive-absence counter of every entity still absent (deleted ones dropped)."""
    mass: bool = False
    """True when this observation looked like a mass deletion."""


def decide_deletions(
    *,
    known: int,
    absent: Collection[K],
    previous_counters: Mapping[K, int],
    present: int,
    policy: GuardPolicy,
    approved: Collection[K] = (),
    incomplete: bool = False,
) -> GuardDecision[K]:
    """Decide which absent entities to delete now and which to hold.

    ``known`` is how many entities the caller holds before this observation; ``absent`` those
    of them missing from it; ``present`` how many entities the observation holds;
    ``previous_counters`` the consecutive-absence counts before this observation (an entity not
    in ``absent`` is present again and loses its counter); ``approved`` absences a person has
    approved, deleted whatever the share; ``incomplete`` says the observation held records
    that could not be told apart (no usable id, or an id listed twice), so any absence may be
    one of them.

    The observation is a *mass* deletion when the source returned nothing while the caller
    knew something, when the absences exceed ``policy.max_share`` of ``known``, or when it is
    ``incomplete``. Ordinary churn is deleted at once; mass absences only once seen
    ``policy.confirmations`` times.
    """
    absent_set = frozenset(absent)
    counters = {key: previous_counters.get(key, 0) + 1 for key in absent_set}
    if not absent_set:
        return GuardDecision(delete=frozenset(), held=frozenset(), counters={})
    mass = (
        incomplete
        or (present == 0 and known > 0)
        or (known > 0 and Decimal(len(absent_set)) > policy.max_share * known)
    )
    approved_set = frozenset(approved) & absent_set
    if not mass:
        delete = absent_set
    else:
        delete = (
            frozenset(k for k, n in counters.items() if n >= policy.confirmations) | approved_set
        )
    held = absent_set - delete
    return GuardDecision(
        delete=delete,
        held=held,
        counters={k: counters[k] for k in held},
        mass=mass,
    )

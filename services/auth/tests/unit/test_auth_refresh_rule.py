"""The refresh family rule as a table."""

from __future__ import annotations

import pytest
from fuelhub_auth.refresh import Verdict, judge_refresh


@pytest.mark.parametrize(
    ("generation", "max_used", "revoked", "expired", "enabled", "verdict"),
    [
        (1, 0, False, False, True, Verdict.ROTATE),  # first use of the login's token
        (1, 1, False, False, True, Verdict.ROTATE),  # an old client re-using R1
        (2, 1, False, False, True, Verdict.ROTATE),  # rotating client
        (2, 2, False, False, True, Verdict.ROTATE),  # retry of a token whose successor is unused
        (1, 2, False, False, True, Verdict.REUSED),  # R1 after R2 was used
        (2, 3, False, False, True, Verdict.REUSED),
        (3, 3, True, False, True, Verdict.REVOKED),
        (1, 0, False, False, False, Verdict.DISABLED),
        (1, 0, False, True, True, Verdict.EXPIRED),
        (1, 2, False, True, True, Verdict.REUSED),  # theft is still theft when expired
    ],
)
def test_judge_refresh(
    generation: int, max_used: int, revoked: bool, expired: bool, enabled: bool, verdict: Verdict
) -> None:
    assert (
        judge_refresh(
            generation=generation,
            max_used_generation=max_used,
            family_revoked=revoked,
            family_expired=expired,
            user_enabled=enabled,
        )
        is verdict
    )

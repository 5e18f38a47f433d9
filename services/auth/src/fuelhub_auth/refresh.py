"""The refresh-token family rule, as a pure function (see docs/auth.md, "Refresh rotation").

Every login starts a family; each refresh returns a successor one generation deeper. Older
tokens keep working (clients of the original server never switch to the rotated token) until a
token of a *later* generation has itself been used: from then on, presenting an older one means
two parties hold the family, so the whole family is revoked.
"""

from __future__ import annotations

from enum import Enum


class Verdict(Enum):
    ROTATE = "rotate"
    REUSED = "reused"  # revoke the family
    REVOKED = "revoked"
    EXPIRED = "expired"
    DISABLED = "disabled"  # revoke the family


def judge_refresh(
    *,
    generation: int,
    max_used_generation: int,
    family_revoked: bool,
    family_expired: bool,
    user_enabled: bool,
) -> Verdict:
    """What to do with a presented refresh token of ``generation`` in its family."""
    if family_revoked:
        return Verdict.REVOKED
    if not user_enabled:
        return Verdict.DISABLED
    if generation < max_used_generation:
        return Verdict.REUSED
    if family_expired:
        return Verdict.EXPIRED
    return Verdict.ROTATE

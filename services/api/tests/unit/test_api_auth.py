"""The bearer check: header parsing, refusals mapped to 401/403/503, remembered successes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fuelhub_api.auth import Authenticator, AuthError, bearer_token
from fuelhub_common.tokens import AccessClaims, InvalidTokenError, KeysUnavailableError


class FakeVerifier:
    def __init__(self, outcome: AccessClaims | InvalidTokenError) -> None:
        self.outcome = outcome
        self.calls = 0

    async def verify_access(self, token: str, *, required_scope: str | None = None) -> AccessClaims:
        self.calls += 1
        if isinstance(self.outcome, InvalidTokenError):
            raise self.outcome
        return self.outcome


def claims(expires_in: float = 600) -> AccessClaims:
    now = datetime.now(UTC)
    return AccessClaims(
        "u", frozenset({"stations:read"}), "j", now, now + timedelta(seconds=expires_in), None
    )


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Token abc", "Basic x"])
def test_bearer_token_missing(header: str | None) -> None:
    with pytest.raises(AuthError) as info:
        bearer_token(header)
    assert info.value.status == 401
    assert info.value.challenge.startswith("Bearer")


async def test_refusals_map_to_statuses() -> None:
    cases = [
        (InvalidTokenError("expired"), 401, 'error="invalid_token"'),
        (InvalidTokenError("insufficient_scope"), 403, 'error="insufficient_scope"'),
        (KeysUnavailableError(), 503, ""),
    ]
    for error, status, challenge in cases:
        with pytest.raises(AuthError) as info:
            await Authenticator(FakeVerifier(error)).authenticate("Bearer t")
        assert info.value.status == status
        assert challenge in info.value.challenge


async def test_successes_are_remembered_until_expiry() -> None:
    verifier = FakeVerifier(claims())
    auth = Authenticator(verifier)
    for _ in range(3):
        await auth.authenticate("bearer tok")
    assert verifier.calls == 1
    expired = FakeVerifier(claims(expires_in=-1))
    auth = Authenticator(expired)
    await auth.authenticate("Bearer tok")
    await auth.authenticate("Bearer tok")
    assert expired.calls == 2

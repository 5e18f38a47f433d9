"""The refresh rotation rule: older tokens work until a successor has been used; then any
use of an older one revokes the family. And RFC 7009 revocation."""

from __future__ import annotations

import pytest
from fuelhub_auth.testing import AuthHarness

pytestmark = pytest.mark.integration

URL = "/api/v1/token/refresh/"


async def refresh(auth: AuthHarness, token: str) -> tuple[int, str | None]:
    response = await auth.client.post(URL, json={"refresh": token})
    body = response.json()
    return response.status_code, body.get("refresh")


async def login(auth: AuthHarness) -> str:
    response = await auth.login("demo", "demo12345")
    assert response.status_code == 200
    return str(response.json()["refresh"])


@pytest.fixture
async def demo(auth: AuthHarness) -> AuthHarness:
    await auth.add_user("demo", "demo12345")
    return auth


async def test_chain_then_reuse_of_the_first_revokes_the_newest(demo: AuthHarness) -> None:
    r1 = await login(demo)
    status, r2 = await refresh(demo, r1)
    assert status == 200
    assert r2
    status, r3 = await refresh(demo, r2)
    assert status == 200
    assert r3
    assert (await refresh(demo, r1))[0] == 401  # R2 was used: R1 is now stolen goods
    assert (await refresh(demo, r3))[0] == 401  # ... and the whole family is gone


async def test_a_client_that_only_ever_uses_its_first_token_keeps_working(
    demo: AuthHarness,
) -> None:
    r1 = await login(demo)
    for _ in range(10):
        status, rotated = await refresh(demo, r1)
        assert status == 200
        assert rotated
        assert rotated != r1


async def test_retrying_a_token_whose_successor_was_never_used_is_fine(
    demo: AuthHarness,
) -> None:
    # A rotating client whose response got lost retries with the same token.
    r1 = await login(demo)
    _, r2 = await refresh(demo, r1)
    assert r2
    status, r3_lost = await refresh(demo, r2)
    assert status == 200
    assert r3_lost
    status, r3 = await refresh(demo, r2)
    assert status == 200
    assert r3
    assert (await refresh(demo, r3))[0] == 200


async def test_families_are_independent(demo: AuthHarness) -> None:
    phone, laptop = await login(demo), await login(demo)
    _, p2 = await refresh(demo, phone)
    assert p2
    await refresh(demo, p2)
    assert (await refresh(demo, phone))[0] == 401
    assert (await refresh(demo, laptop))[0] == 200


async def test_refresh_tokens_expire(demo: AuthHarness) -> None:
    r1 = await login(demo)
    demo.clock.offset = demo.settings.auth_refresh_ttl_seconds + 1
    assert (await refresh(demo, r1))[0] == 401


async def test_refresh_gives_the_users_current_scopes(demo: AuthHarness) -> None:
    r1 = await login(demo)
    response = await demo.client.post(URL, json={"refresh": r1})
    claims = await demo.verifier().verify_access(response.json()["access"])
    assert claims.scopes == frozenset({"stations:read"})


async def test_password_reset_revokes_refresh_tokens(demo: AuthHarness) -> None:
    r1 = await login(demo)
    admin = await demo.admin_token()
    response = await demo.client.post(
        "/accounts/users/demo/password",
        json={"password": "a-new-password"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 200
    assert response.json() == {"username": "demo", "password": None}
    assert (await refresh(demo, r1))[0] == 401
    assert (await demo.login("demo", "demo12345")).status_code == 401
    assert (await demo.login("demo", "a-new-password")).status_code == 200


async def test_revocation_endpoint(demo: AuthHarness) -> None:
    r1 = await login(demo)
    _, r2 = await refresh(demo, r1)
    assert r2
    response = await demo.client.post("/oauth/revoke", data={"token": r1})
    assert response.status_code == 200
    assert (await refresh(demo, r2))[0] == 401, "revoking one token ends its family"
    # Unknown, garbage and already-revoked tokens: 200 all the same (RFC 7009 §2.2).
    for token in ("garbage", "a.b.c", r1):
        assert (await demo.client.post("/oauth/revoke", data={"token": token})).status_code == 200


async def test_revocation_errors(demo: AuthHarness) -> None:
    access = (await demo.login("demo", "demo12345")).json()["access"]
    response = await demo.client.post("/oauth/revoke", data={"token": access})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_token_type"
    response = await demo.client.post("/oauth/revoke", data={})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    response = await demo.client.post("/oauth/revoke", json={"token": access})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_prune_removes_only_dead_families(demo: AuthHarness) -> None:
    await login(demo)
    assert await demo.container.tokens.prune() == 0
    demo.clock.offset = demo.settings.auth_refresh_ttl_seconds + 1
    assert await demo.container.tokens.prune() == 1


async def test_concurrent_refreshes_of_one_token(demo: AuthHarness) -> None:
    import asyncio

    from fuelhub_auth.models import RefreshToken
    from sqlalchemy import select

    r1 = await login(demo)
    results = await asyncio.gather(*(refresh(demo, r1) for _ in range(8)))
    assert [status for status, _ in results] == [200] * 8
    async with demo.container.db.transaction() as session:
        first = (
            await session.execute(select(RefreshToken).where(RefreshToken.generation == 1))
        ).scalar_one()
        assert first.use_count == 8
        successors = (
            await session.execute(select(RefreshToken).where(RefreshToken.parent_jti == first.jti))
        ).scalars()
        assert len(list(successors)) == 8

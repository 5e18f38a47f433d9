"""Failed logins are throttled per username and per client address, before argon2 runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fuelhub_auth.testing import AuthHarness

pytestmark = pytest.mark.integration


@pytest.fixture
def auth_overrides() -> dict[str, Any]:
    return {
        "auth_login_max_failures_per_username": 5,
        "auth_login_max_failures_per_address": 8,
        "auth_login_failure_window_seconds": 300,
    }


def hashes(auth: AuthHarness) -> float:
    return auth.container.metrics.hashes_computed()


async def test_brute_force_on_one_username_is_throttled_before_hashing(
    auth: AuthHarness,
) -> None:
    await auth.add_user("demo", "demo12345")
    for _ in range(5):
        assert (await auth.login("demo", "guess-guess")).status_code == 401
    before = hashes(auth)
    for password in ("guess-again", "demo12345"):  # even the right password waits
        response = await auth.login("demo", password)
        assert response.status_code == 429
        assert 1 <= int(response.headers["retry-after"]) <= 300
        assert "detail" in response.json()
    # Case does not give a fresh budget.
    assert (await auth.login("DEMO", "guess")).status_code == 429
    assert hashes(auth) == before, "argon2 must not run for a throttled attempt"
    metrics = (await auth.client.get("/metrics")).text
    assert 'fuelhub_auth_token_failures_total{reason="throttled"} 3.0' in metrics
    # Another user from another address is unaffected.
    await auth.add_user("other", "other-password")
    other = await auth.client.post(
        "/api/v1/token/",
        json={"username": "other", "password": "other-password"},
        headers={"X-Forwarded-For": "203.0.113.50"},
    )
    assert other.status_code == 200


async def test_success_resets_the_username_budget(auth: AuthHarness) -> None:
    await auth.add_user("demo", "demo12345")
    for _ in range(4):
        await auth.login("demo", "wrong-wrong")
    assert (await auth.login("demo", "demo12345")).status_code == 200
    for _ in range(4):
        assert (await auth.login("demo", "wrong-wrong")).status_code == 401


async def test_spraying_usernames_from_one_address_is_throttled(auth: AuthHarness) -> None:
    headers = {"X-Forwarded-For": "198.51.100.7"}  # the peer (127.0.0.1) is the trusted gateway
    for i in range(8):
        response = await auth.login(f"user{i}", "password1", headers=headers)
        assert response.status_code == 401
    response = await auth.login("user-next", "password1", headers=headers)
    assert response.status_code == 429
    elsewhere = await auth.login(
        "user-next", "password1", headers={"X-Forwarded-For": "198.51.100.8"}
    )
    assert elsewhere.status_code == 401


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(auth: AuthHarness) -> None:
    transport = httpx.ASGITransport(app=auth.app, client=("192.0.2.10", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as direct:
        for i in range(8):
            # A client rotating a forged X-Forwarded-For does not escape the address limit.
            response = await direct.post(
                "/api/v1/token/",
                json={"username": f"user{i}", "password": "password1"},
                headers={"X-Forwarded-For": f"10.9.9.{i}"},
            )
            assert response.status_code == 401
        response = await direct.post(
            "/api/v1/token/",
            json={"username": "user-x", "password": "password1"},
            headers={"X-Forwarded-For": "10.9.9.99"},
        )
        assert response.status_code == 429


async def test_client_credentials_failures_are_throttled_too(auth: AuthHarness) -> None:
    await auth.add_client("svc")
    for _ in range(5):
        response = await auth.client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("svc", "wrong")
        )
        assert response.status_code == 401
    before = hashes(auth)
    response = await auth.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("svc", "wrong")
    )
    assert response.status_code == 429
    assert response.headers["retry-after"]
    assert hashes(auth) == before

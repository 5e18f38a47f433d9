"""The accounts API: admin scope only; users and clients managed without touching tables."""

from __future__ import annotations

import pytest
from fuelhub_auth.testing import AuthHarness

pytestmark = pytest.mark.integration


@pytest.fixture
async def admin(auth: AuthHarness) -> dict[str, str]:
    return {"Authorization": f"Bearer {await auth.admin_token()}"}


async def test_requires_an_admin_token(auth: AuthHarness) -> None:
    response = await auth.client.get("/accounts/users")
    assert response.status_code == 401
    await auth.add_user("demo", "demo12345")
    reader = (await auth.login("demo", "demo12345")).json()["access"]
    response = await auth.client.get(
        "/accounts/users", headers={"Authorization": f"Bearer {reader}"}
    )
    assert response.status_code == 403


async def test_user_lifecycle(auth: AuthHarness, admin: dict[str, str]) -> None:
    created = await auth.client.post(
        "/accounts/users", json={"username": "alice", "scopes": ["stations:read"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    generated = body["password"]
    assert len(generated) >= 32
    assert body["enabled"] is True
    assert (await auth.login("alice", generated)).status_code == 200

    again = await auth.client.post(
        "/accounts/users", json={"username": "alice", "password": "whatever1"}, headers=admin
    )
    assert again.status_code == 409

    listed = (await auth.client.get("/accounts/users", headers=admin)).json()
    assert [u["username"] for u in listed] == ["alice", "root"]
    assert all("password" not in u and "password_hash" not in u for u in listed)

    one = await auth.client.get("/accounts/users/alice", headers=admin)
    assert one.json()["scopes"] == ["stations:read"]
    assert (await auth.client.get("/accounts/users/nobody", headers=admin)).status_code == 404

    disabled = await auth.client.post("/accounts/users/alice/disable", headers=admin)
    assert disabled.json()["enabled"] is False
    assert (await auth.login("alice", generated)).status_code == 401

    reset = await auth.client.post("/accounts/users/alice/password", json={}, headers=admin)
    new_password = reset.json()["password"]
    await auth.client.post("/accounts/users/alice/enable", headers=admin)
    assert (await auth.login("alice", generated)).status_code == 401
    assert (await auth.login("alice", new_password)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "bad name"},
        {"username": "x" * 151},
        {"username": "ok", "scopes": ["root"]},
        {"username": "ok", "password": "short"},
        {"username": "ok", "unexpected": 1},
        {"username": 7},
    ],
)
async def test_invalid_user_bodies_are_422(
    auth: AuthHarness,
    admin: dict[str, str],
    body: dict,  # type: ignore[type-arg]
) -> None:
    response = await auth.client.post("/accounts/users", json=body, headers=admin)
    assert response.status_code == 422


async def test_client_lifecycle(auth: AuthHarness, admin: dict[str, str]) -> None:
    created = await auth.client.post(
        "/accounts/clients", json={"client_id": "billing", "name": "Billing"}, headers=admin
    )
    assert created.status_code == 201, created.text
    secret = created.json()["client_secret"]
    generated = await auth.client.post("/accounts/clients", json={"name": "Anon"}, headers=admin)
    assert generated.json()["client_id"].startswith("svc-")
    assert (
        await auth.client.post(
            "/accounts/clients", json={"client_id": "billing", "name": "x"}, headers=admin
        )
    ).status_code == 409
    listed = (await auth.client.get("/accounts/clients", headers=admin)).json()
    assert {c["client_id"] for c in listed} == {"billing", generated.json()["client_id"]}
    assert all("client_secret" not in c for c in listed)
    token = await auth.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("billing", secret)
    )
    assert token.status_code == 200
    assert (
        await auth.client.post("/accounts/clients/nobody/secret", headers=admin)
    ).status_code == 404
    disabled = await auth.client.post("/accounts/clients/billing/disable", headers=admin)
    assert disabled.json()["enabled"] is False
    enabled = await auth.client.post("/accounts/clients/billing/enable", headers=admin)
    assert enabled.json()["enabled"] is True


async def test_pagination_bounds(auth: AuthHarness, admin: dict[str, str]) -> None:
    for query in ("limit=0", "limit=501", "offset=-1", "limit=abc"):
        response = await auth.client.get(f"/accounts/users?{query}", headers=admin)
        assert response.status_code == 422, query
    assert (await auth.client.get("/accounts/users?limit=1", headers=admin)).json()[0][
        "username"
    ] == "root"


async def test_bad_path_parameters_are_422(auth: AuthHarness, admin: dict[str, str]) -> None:
    for path in (
        "/accounts/users/a%00b",
        "/accounts/users/a%20b/disable",
        "/accounts/clients/x/secret",
        "/accounts/clients/a%00bc",
    ):
        response = (
            await auth.client.get(path, headers=admin)
            if path.count("/") == 3
            else (await auth.client.post(path, headers=admin))
        )
        assert response.status_code == 422, path

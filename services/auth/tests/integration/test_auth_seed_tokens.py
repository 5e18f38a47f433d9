"""The seed's token endpoints, driven with the exact requests its clients send."""

from __future__ import annotations

import pytest
from fuelhub_auth.testing import AuthHarness

pytestmark = pytest.mark.integration

GENERIC_401 = {"detail": "No active account found with the given credentials"}


async def _obtain(auth: AuthHarness, style: str, fields: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    url = "/api/v1/token/"
    if style == "json":
        response = await auth.client.post(url, json=fields)
    elif style == "form":
        response = await auth.client.post(url, data=fields)
    else:  # multipart, as `requests.post(url, files=...)` or curl -F send it
        response = await auth.client.post(url, files={k: (None, v) for k, v in fields.items()})
    return response.status_code, response.json()


@pytest.mark.parametrize("style", ["json", "form", "multipart"])
async def test_login_and_refresh_as_the_seed_clients_do(auth: AuthHarness, style: str) -> None:
    await auth.add_user("demo", "demo12345")
    status, body = await _obtain(auth, style, {"username": "demo", "password": "demo12345"})
    assert status == 200, body
    assert set(body) == {"access", "refresh"}
    verifier = auth.verifier()
    claims = await verifier.verify_access(body["access"], required_scope="stations:read")
    assert claims.subject == "demo"
    assert claims.client_id is None
    assert (claims.expires_at - claims.issued_at).total_seconds() == 900

    url = "/api/v1/token/refresh/"
    refresh = {"refresh": body["refresh"]}
    if style == "json":
        response = await auth.client.post(url, json=refresh)
    elif style == "form":
        response = await auth.client.post(url, data=refresh)
    else:
        response = await auth.client.post(url, files={"refresh": (None, body["refresh"])})
    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert set(refreshed) == {"access", "refresh"}
    assert refreshed["refresh"] != body["refresh"]
    assert (await verifier.verify_access(refreshed["access"])).subject == "demo"
    assert response.headers["cache-control"] == "no-store"


async def test_wrong_password_and_unknown_user_look_the_same(auth: AuthHarness) -> None:
    await auth.add_user("demo", "demo12345")
    wrong = await auth.login("demo", "not-the-password")
    unknown = await auth.login("nobody", "demo12345")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == GENERIC_401


async def test_disabled_user_cannot_log_in_or_refresh(auth: AuthHarness) -> None:
    await auth.add_user("demo", "demo12345")
    pair = (await auth.login("demo", "demo12345")).json()
    token = await auth.admin_token()
    response = await auth.client.post(
        "/accounts/users/demo/disable", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    login = await auth.login("demo", "demo12345")
    assert login.status_code == 401
    assert login.json() == GENERIC_401
    refresh = await auth.client.post("/api/v1/token/refresh/", json={"refresh": pair["refresh"]})
    assert refresh.status_code == 401
    assert refresh.json() == {"detail": "Token is invalid or expired", "code": "token_not_valid"}
    # Enabling again does not resurrect the refresh tokens revoked on disable.
    await auth.client.post(
        "/accounts/users/demo/enable", headers={"Authorization": f"Bearer {token}"}
    )
    again = await auth.client.post("/api/v1/token/refresh/", json={"refresh": pair["refresh"]})
    assert again.status_code == 401
    assert (await auth.login("demo", "demo12345")).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"json": {"username": "demo"}}, 400, "password: This field is required."),
        ({"json": {"username": "", "password": "x"}}, 400, "may not be blank"),
        ({"json": {"username": 5, "password": "x"}}, 400, "must be a string"),
        ({"json": {"username": ["a"], "password": "x"}}, 400, "must be a string"),
        ({"json": ["username", "password"]}, 400, "JSON object"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        (
            {"content": b"username=demo", "headers": {"content-type": "text/plain"}},
            415,
            "text/plain",
        ),
        ({"content": b"x"}, 415, "Unsupported media type"),
        ({"json": {"username": "u" * 151, "password": "x"}}, 400, "at most 150"),
        ({"json": {"username": "u", "password": "p" * 1025}}, 400, "at most 1024"),
        ({"files": {"username": ("u.txt", b"demo"), "password": (None, "x")}}, 400, ""),
        (
            {
                "content": b"--x\r\nbroken",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
            400,
            "",
        ),
        ({"json": {"username": "u", "password": "p" * 20000}}, 413, "too large"),
    ],
)
async def test_malformed_login_requests_get_clear_4xx(
    auth: AuthHarness,
    kwargs: dict,
    status: int,
    fragment: str,  # type: ignore[type-arg]
) -> None:
    response = await auth.client.post("/api/v1/token/", **kwargs)
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"username": "a\u0000b", "password": "x"}},
        {"data": {"username": "demo", "password": "p\x00"}},
        {"files": {"username": (None, "a\x00"), "password": (None, "x")}},
    ],
)
async def test_nul_characters_are_a_400_not_a_database_error(
    auth: AuthHarness,
    kwargs: dict,  # type: ignore[type-arg]
) -> None:
    response = await auth.client.post("/api/v1/token/", **kwargs)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


async def test_missing_refresh_field_and_garbage_refresh(auth: AuthHarness) -> None:
    response = await auth.client.post("/api/v1/token/refresh/", json={})
    assert response.status_code == 400
    assert response.json()["refresh"] == ["This field is required."]
    for garbage in ("abc", "a.b.c", "x" * 9000):
        response = await auth.client.post("/api/v1/token/refresh/", data={"refresh": garbage})
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"


async def test_body_cap_applies_to_streamed_bodies(auth: AuthHarness) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"a" * 1024

    response = await auth.client.post(
        "/api/v1/token/", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_health_and_metrics(auth: AuthHarness) -> None:
    assert (await auth.client.get("/healthz")).status_code == 200
    ready = await auth.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True}
    await auth.add_user("demo", "demo12345")
    await auth.login("demo", "demo12345")
    await auth.login("demo", "nope-nope")
    metrics = (await auth.client.get("/metrics")).text
    assert 'fuelhub_auth_tokens_issued_total{grant="password"} 1.0' in metrics
    assert 'fuelhub_auth_token_failures_total{reason="bad_credentials"} 1.0' in metrics


async def test_openapi_steers_new_clients_to_client_credentials(auth: AuthHarness) -> None:
    document = (await auth.client.get("/openapi.json")).json()
    assert "client credentials" in document["info"]["description"]
    token_op = document["paths"]["/api/v1/token/"]["post"]
    assert set(token_op["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }

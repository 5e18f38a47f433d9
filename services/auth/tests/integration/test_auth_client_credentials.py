"""POST /oauth/token: the client credentials grant (RFC 6749 §4.4) and its error responses."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
from fuelhub_auth.testing import AuthHarness

pytestmark = pytest.mark.integration

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
async def secret(auth: AuthHarness) -> str:
    return await auth.add_client("partner-svc", ("stations:read",))


async def test_http_basic_happy_path(auth: AuthHarness, secret: str) -> None:
    response = await auth.client.post("/oauth/token", data=GRANT, auth=("partner-svc", secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "stations:read"
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    claims = await auth.verifier().verify_access(
        body["access_token"], required_scope="stations:read"
    )
    assert claims.client_id == "partner-svc"
    assert claims.subject == "partner-svc"


async def test_basic_credentials_are_form_urlencoded(auth: AuthHarness) -> None:
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    odd_secret = await auth.add_client("odd.client", ("stations:read",))
    raw = f"{quote_plus('odd.client')}:{quote_plus(odd_secret)}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    response = await auth.client.post("/oauth/token", data=GRANT, headers=header)
    assert response.status_code == 200


async def test_client_secret_post_and_scope_subset(auth: AuthHarness, secret: str) -> None:
    response = await auth.client.post(
        "/oauth/token",
        data={
            **GRANT,
            "client_id": "partner-svc",
            "client_secret": secret,
            "scope": "stations:read",
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "stations:read"


@pytest.mark.parametrize(
    ("data", "use_basic", "status", "error"),
    [
        ({}, True, 400, "invalid_request"),
        (
            {"grant_type": "password", "username": "a", "password": "b"},
            True,
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "authorization_code"}, True, 400, "unsupported_grant_type"),
        ({**GRANT, "scope": "admin"}, True, 400, "invalid_scope"),
        ({**GRANT, "scope": "stations:write"}, True, 400, "invalid_scope"),
        ({**GRANT, "scope": "bad\\scope"}, True, 400, "invalid_scope"),
        ({**GRANT, "client_secret": "x"}, True, 400, "invalid_request"),
        ({**GRANT, "client_id": "someone-else"}, True, 400, "invalid_request"),
        (GRANT, False, 401, "invalid_client"),
        ({**GRANT, "client_id": "partner-svc"}, False, 401, "invalid_client"),
    ],
)
async def test_rfc_errors(
    auth: AuthHarness,
    secret: str,
    data: dict,
    use_basic: bool,
    status: int,
    error: str,  # type: ignore[type-arg]
) -> None:
    kwargs = {"auth": ("partner-svc", secret)} if use_basic else {}
    response = await auth.client.post("/oauth/token", data=data, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


async def test_wrong_secret_and_unknown_client(auth: AuthHarness, secret: str) -> None:
    for credentials in (("partner-svc", "wrong"), ("nobody", secret)):
        response = await auth.client.post("/oauth/token", data=GRANT, auth=credentials)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_malformed_requests(auth: AuthHarness, secret: str) -> None:
    as_json = await auth.client.post(
        "/oauth/token", json={**GRANT, "client_id": "partner-svc", "client_secret": secret}
    )
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    repeated = await auth.client.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=("partner-svc", secret),
    )
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    nul = "Basic " + base64.b64encode(b"partner-svc\x00:x").decode()
    for header in (nul, "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer x"):
        response = await auth.client.post(
            "/oauth/token", data=GRANT, headers={"Authorization": header}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


async def test_disabled_client_and_secret_rotation(auth: AuthHarness, secret: str) -> None:
    admin = {"Authorization": f"Bearer {await auth.admin_token()}"}
    rotated = await auth.client.post("/accounts/clients/partner-svc/secret", headers=admin)
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    old = await auth.client.post("/oauth/token", data=GRANT, auth=("partner-svc", secret))
    assert old.status_code == 401
    new = await auth.client.post("/oauth/token", data=GRANT, auth=("partner-svc", new_secret))
    assert new.status_code == 200
    await auth.client.post("/accounts/clients/partner-svc/disable", headers=admin)
    disabled = await auth.client.post("/oauth/token", data=GRANT, auth=("partner-svc", new_secret))
    assert disabled.status_code == 401
    assert disabled.json()["error"] == "invalid_client"


async def test_metadata_and_jwks(auth: AuthHarness) -> None:
    metadata = (await auth.client.get("/.well-known/oauth-authorization-server")).json()
    issuer = auth.settings.auth_issuer
    assert metadata["issuer"] == issuer
    assert metadata["token_endpoint"] == f"{issuer}/oauth/token"
    assert metadata["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert metadata["revocation_endpoint"] == f"{issuer}/oauth/revoke"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    jwks = (await auth.client.get("/.well-known/jwks.json")).json()
    assert len(jwks["keys"]) == 1
    (key,) = jwks["keys"]
    assert key["kty"] == "OKP"
    assert key["alg"] == "EdDSA"
    assert "d" not in key, "never publish the private part"

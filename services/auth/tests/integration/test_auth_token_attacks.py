"""Forged and misused tokens: each refused with 401 and the same generic body (no reason leaks),
both by auth's own protected API and by the TokenVerifier the API uses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from fuelhub_auth.issuing import mint_access
from fuelhub_auth.keys import new_signing_key
from fuelhub_auth.testing import AuthHarness
from fuelhub_common.tokens import InvalidTokenError
from joserfc import jwt
from joserfc.jwk import OKPKey

pytestmark = pytest.mark.integration

GENERIC = {"detail": "Token is invalid or expired"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict, dict, str]:  # type: ignore[type-arg]
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


async def forged_tokens(auth: AuthHarness) -> dict[str, tuple[str, str]]:
    """name -> (token, the verifier's expected reason)."""
    await auth.add_user("eve", "eve-password", ("stations:read",))
    pair = (await auth.login("eve", "eve-password")).json()
    real = pair["access"]
    key = auth.container.keys.ring().signing_key
    settings = auth.settings
    now = int(time.time())

    def signed(**overrides: object) -> str:
        issuer = str(overrides.pop("issuer", settings.auth_issuer))
        audience = str(overrides.pop("audience", settings.auth_audience))
        signing = overrides.pop("key", key)
        return mint_access(
            key=signing,  # type: ignore[arg-type]
            issuer=issuer,
            audience=audience,
            subject="eve",
            scopes=["stations:read", "admin"],
            ttl_seconds=900,
            now=int(overrides.pop("now", now)),  # type: ignore[call-overload]
        ).token

    header, payload, signature = segments(real)
    tampered_payload = b64(json.dumps({**payload, "scope": "admin stations:read"}).encode())
    none_header = b64(json.dumps({**header, "alg": "none"}).encode())
    hs_header = b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = b64(json.dumps({**payload, "scope": "admin"}).encode())
    public_jwk = json.dumps(key.public_jwk()).encode()
    mac = hmac.new(public_jwk, f"{hs_header}.{body}".encode(), hashlib.sha256).digest()
    stranger = new_signing_key()
    # A key that claims the real kid but isn't the real key.
    impostor = OKPKey.generate_key("Ed25519", parameters={"kid": key.kid})
    impostor_token = jwt.encode(
        {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"},
        {**payload, "scope": "admin stations:read"},
        impostor,
        algorithms=["EdDSA"],
    )
    return {
        "expired": (signed(now=now - 7200), "expired"),
        "unknown key": (signed(key=stranger), "unknown_key"),
        "tampered payload": (
            f"{real.split('.')[0]}.{tampered_payload}.{signature}",
            "bad_signature",
        ),
        "impostor key with the real kid": (impostor_token, "bad_signature"),
        "alg none": (f"{none_header}.{body}.", "bad_algorithm"),
        "HS256 with the public key": (f"{hs_header}.{body}.{b64(mac)}", "bad_algorithm"),
        "wrong audience": (signed(audience="another-api"), "wrong_audience"),
        "wrong issuer": (signed(issuer="http://evil.test"), "wrong_issuer"),
        "refresh used as access": (pair["refresh"], "wrong_type"),
    }


async def test_forged_tokens_are_refused_with_a_generic_401(auth: AuthHarness) -> None:
    tokens = await forged_tokens(auth)
    verifier = auth.verifier()
    for name, (token, reason) in tokens.items():
        response = await auth.client.get(
            "/accounts/users", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, name
        assert response.json() == GENERIC, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        with pytest.raises(InvalidTokenError) as info:
            await verifier.verify_access(token)
        assert info.value.reason == reason, name


async def test_reused_refresh_token_is_refused_and_its_family_revoked(auth: AuthHarness) -> None:
    await auth.add_user("demo", "demo12345")
    r1 = (await auth.login("demo", "demo12345")).json()["refresh"]
    r2 = (await auth.client.post("/api/v1/token/refresh/", json={"refresh": r1})).json()["refresh"]
    r3 = (await auth.client.post("/api/v1/token/refresh/", json={"refresh": r2})).json()["refresh"]
    reuse = await auth.client.post("/api/v1/token/refresh/", json={"refresh": r1})
    assert reuse.status_code == 401
    assert reuse.json() == {"detail": "Token is invalid or expired", "code": "token_not_valid"}
    for token in (r1, r2, r3):
        response = await auth.client.post("/api/v1/token/refresh/", json={"refresh": token})
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"
    metrics = (await auth.client.get("/metrics")).text
    assert 'fuelhub_auth_token_failures_total{reason="refresh_reused"} 1.0' in metrics


async def test_an_access_token_is_not_a_refresh_token(auth: AuthHarness) -> None:
    await auth.add_user("demo", "demo12345")
    access = (await auth.login("demo", "demo12345")).json()["access"]
    response = await auth.client.post("/api/v1/token/refresh/", json={"refresh": access})
    assert response.status_code == 401

"""TokenVerifier: the checks on each token, and the JWKS cache (fetch, refresh, outage)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fuelhub_common.tokens import (
    InvalidTokenError,
    KeysUnavailableError,
    TokenVerifier,
    validate_token,
)
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey

ISSUER = "http://issuer.test"
AUDIENCE = "fuelhub-api"
JWKS_URL = "http://auth.test/.well-known/jwks.json"


def new_key(kid: str) -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": kid, "alg": "EdDSA", "use": "sig"})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "demo",
        "iat": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
        "scope": "stations:read",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: OKPKey, *, typ: str = "at+jwt", alg: str = "EdDSA", **over: Any) -> str:
    header = {"alg": alg, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims(**over), key, algorithms=[alg])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeAuth:
    """A JWKS endpoint whose keys and availability the test controls; counts fetches."""

    def __init__(self, *keys: OKPKey) -> None:
        self.keys: list[Any] = list(keys)
        self.up = True
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if not self.up:
            raise httpx.ConnectError("auth is down", request=request)
        return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.keys]})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key() -> OKPKey:
    return new_key("k1")


@pytest.fixture
def auth(key: OKPKey) -> FakeAuth:
    return FakeAuth(key)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_verifier(auth: FakeAuth, clock: Clock) -> Callable[..., TokenVerifier]:
    def make(**kwargs: Any) -> TokenVerifier:
        client = httpx.AsyncClient(transport=httpx.MockTransport(auth.handler))
        return TokenVerifier(
            jwks_url=JWKS_URL,
            issuer=ISSUER,
            audience=AUDIENCE,
            http_client=client,
            clock=clock,
            **kwargs,
        )

    return make


async def reason_of(verifier: TokenVerifier, token: str, **kwargs: Any) -> str:
    with pytest.raises(InvalidTokenError) as info:
        await verifier.verify_access(token, **kwargs)
    return info.value.reason


async def test_valid_token_gives_typed_claims(
    make_verifier: Callable[..., TokenVerifier], key: OKPKey
) -> None:
    token = mint(key, scope="stations:read admin", client_id="svc", sub="svc")
    result = await make_verifier().verify_access(token, required_scope="admin")
    assert result.subject == "svc"
    assert result.scopes == frozenset({"stations:read", "admin"})
    assert result.client_id == "svc"
    assert result.expires_at > result.issued_at


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"aud": "someone-else"}, "wrong_audience"),
        ({"iss": "http://evil.test"}, "wrong_issuer"),
        ({"nbf": int(time.time()) + 3600}, "not_yet_valid"),
        ({"sub": None}, "malformed"),
        ({"jti": None}, "malformed"),
        ({"exp": None}, "malformed"),
        ({"scope": ["admin"]}, "malformed"),
    ],
)
async def test_bad_claims_are_refused(
    make_verifier: Callable[..., TokenVerifier], key: OKPKey, overrides: dict[str, Any], reason: str
) -> None:
    assert await reason_of(make_verifier(), mint(key, **overrides)) == reason


async def test_leeway_accepts_a_token_just_expired(
    make_verifier: Callable[..., TokenVerifier], key: OKPKey
) -> None:
    token = mint(key, exp=int(time.time()) - 5)
    await make_verifier(leeway_seconds=30).verify_access(token)
    assert await reason_of(make_verifier(leeway_seconds=0), token) == "expired"


async def test_refresh_token_is_not_an_access_token(
    make_verifier: Callable[..., TokenVerifier], key: OKPKey
) -> None:
    assert await reason_of(make_verifier(), mint(key, typ="refresh+jwt")) == "wrong_type"


async def test_insufficient_scope(make_verifier: Callable[..., TokenVerifier], key: OKPKey) -> None:
    token = mint(key, scope="stations:read")
    assert await reason_of(make_verifier(), token, required_scope="admin") == "insufficient_scope"


async def test_tampered_payload(make_verifier: Callable[..., TokenVerifier], key: OKPKey) -> None:
    header, _, signature = mint(key).split(".")
    forged = b64(json.dumps(claims(scope="admin")).encode())
    assert await reason_of(make_verifier(), f"{header}.{forged}.{signature}") == "bad_signature"


async def test_alg_none_is_refused(
    make_verifier: Callable[..., TokenVerifier], key: OKPKey
) -> None:
    header = b64(json.dumps({"alg": "none", "kid": key.kid, "typ": "at+jwt"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    assert await reason_of(make_verifier(), token) == "bad_algorithm"


async def test_hs256_signed_with_the_public_key_is_refused(
    make_verifier: Callable[..., TokenVerifier], key: OKPKey
) -> None:
    public = json.dumps(key.as_dict(private=False)).encode()
    for secret in (public, key.as_dict(private=False)["x"].encode()):
        header = b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "at+jwt"}).encode())
        payload = b64(json.dumps(claims()).encode())
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        assert await reason_of(make_verifier(), f"{header}.{payload}.{b64(mac)}") == "bad_algorithm"


async def test_oct_key_in_jwks_is_never_used(auth: FakeAuth, clock: Clock) -> None:
    # Even with HS256 allowed by a misconfiguration, an "oct" key from the JWKS is dropped.
    with pytest.raises(ValueError, match="not allowed"):
        TokenVerifier(jwks_url=JWKS_URL, issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"])
    auth.keys.append(OctKey.generate_key(256, parameters={"kid": "sym"}))
    verifier = TokenVerifier(
        jwks_url=JWKS_URL,
        issuer=ISSUER,
        audience=AUDIENCE,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(auth.handler)),
        clock=clock,
    )
    header = b64(json.dumps({"alg": "EdDSA", "kid": "sym", "typ": "at+jwt"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}.{b64(b'x' * 64)}"
    assert await reason_of(verifier, token) == "unknown_key"


async def test_key_type_must_fit_alg(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth
) -> None:
    # An EC key published under a kid cannot be used to verify an "EdDSA" token.
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec1"})
    auth.keys.append(ec)
    header = b64(json.dumps({"alg": "EdDSA", "kid": "ec1", "typ": "at+jwt"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}.{b64(b'x' * 64)}"
    assert await reason_of(make_verifier(), token) == "unknown_key"


async def test_es256_tokens_verify(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth
) -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec1", "alg": "ES256"})
    auth.keys.append(ec)
    token = jwt.encode({"alg": "ES256", "kid": "ec1", "typ": "at+jwt"}, claims(), ec)
    assert (await make_verifier().verify_access(token)).subject == "demo"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "!!!.@@@.###", "x" * 9000, "e30.e30.", "WzFd.e30.e30"],
)
async def test_garbage_is_malformed(
    make_verifier: Callable[..., TokenVerifier], token: str
) -> None:
    assert await reason_of(make_verifier(), token) in {"malformed", "bad_algorithm"}


async def test_jwks_is_cached(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth, key: OKPKey, clock: Clock
) -> None:
    verifier = make_verifier(jwks_cache_seconds=300)
    for _ in range(5):
        await verifier.verify_access(mint(key))
    assert auth.fetches == 1
    clock.now += 301
    await verifier.verify_access(mint(key))
    assert auth.fetches == 2


async def test_unknown_kid_refreshes_once_then_rate_limited(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth, key: OKPKey, clock: Clock
) -> None:
    verifier = make_verifier(unknown_kid_refresh_seconds=10)
    await verifier.verify_access(mint(key))
    assert auth.fetches == 1
    stranger = new_key("never-published")
    for _ in range(20):
        assert await reason_of(verifier, mint(stranger)) == "unknown_key"
    assert auth.fetches == 1, "a burst of garbage kids right after a fetch must not refetch"
    clock.now += 11
    for _ in range(20):
        assert await reason_of(verifier, mint(stranger)) == "unknown_key"
    assert auth.fetches == 2, "at most one refetch per interval"


async def test_rotated_key_is_picked_up_on_unknown_kid(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth, key: OKPKey, clock: Clock
) -> None:
    verifier = make_verifier()
    await verifier.verify_access(mint(key))
    rotated = new_key("k2")
    auth.keys.insert(0, rotated)
    clock.now += 11
    assert (await verifier.verify_access(mint(rotated))).subject == "demo"
    await verifier.verify_access(mint(key))  # the old key still verifies
    assert auth.fetches == 2


async def test_works_from_cache_while_auth_is_down(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth, key: OKPKey, clock: Clock
) -> None:
    verifier = make_verifier(jwks_cache_seconds=300, unknown_kid_refresh_seconds=10)
    await verifier.verify_access(mint(key))
    auth.up = False
    clock.now += 3600  # far past the cache lifetime
    for _ in range(10):
        await verifier.verify_access(mint(key))
    assert auth.fetches == 2, "one failed refresh, then the stale cache, without hammering"
    auth.up = True
    clock.now += 11
    await verifier.verify_access(mint(key))
    assert auth.fetches == 3


async def test_no_keys_at_all_is_keys_unavailable(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth, key: OKPKey, clock: Clock
) -> None:
    auth.up = False
    verifier = make_verifier()
    with pytest.raises(KeysUnavailableError) as info:
        await verifier.verify_access(mint(key))
    assert info.value.reason == "keys_unavailable"
    auth.up = True
    clock.now += 2
    await verifier.verify_access(mint(key))


async def test_bad_jwks_document_keeps_the_cache(
    make_verifier: Callable[..., TokenVerifier], key: OKPKey, clock: Clock
) -> None:
    responses = iter([{"keys": [key.as_dict(private=False)]}, {"nope": 1}])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(responses, {"keys": []}))

    verifier = TokenVerifier(
        jwks_url=JWKS_URL,
        issuer=ISSUER,
        audience=AUDIENCE,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        clock=clock,
    )
    await verifier.verify_access(mint(key))
    clock.now += 400
    await verifier.verify_access(mint(key))


def test_validate_token_with_a_local_key_set(key: OKPKey) -> None:
    from joserfc.jwk import KeySet

    verified = validate_token(
        mint(key, typ="refresh+jwt"),
        keys=KeySet([key]),
        expected_type="refresh+jwt",
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    assert verified.kid == "k1"
    assert verified.claims["sub"] == "demo"


async def test_hopeless_tokens_do_not_trigger_a_fetch(
    make_verifier: Callable[..., TokenVerifier], auth: FakeAuth, key: OKPKey, clock: Clock
) -> None:
    verifier = make_verifier()
    await verifier.verify_access(mint(key))
    clock.now += 60
    stranger = new_key("other")
    for token in (mint(stranger, typ="refresh+jwt"), mint(stranger, alg="EdDSA", typ="JWT")):
        with pytest.raises(InvalidTokenError):
            await verifier.verify_access(token)
    header = b64(json.dumps({"alg": "HS256", "kid": "zzz", "typ": "at+jwt"}).encode())
    with pytest.raises(InvalidTokenError):
        await verifier.verify_access(f"{header}.e30.e30")
    assert auth.fetches == 1

"""Verification of fuelhub access tokens (JWTs signed by the auth service).

The read API and the admin verify tokens on their own, without calling auth per request:
:class:`TokenVerifier` fetches auth's JWKS, caches it, refreshes it when a token names an
unknown ``kid`` (at most once per ``unknown_kid_refresh_seconds``, so garbage ``kid`` values
cannot hammer auth) and keeps verifying from its cache while auth is down.

What is checked, in order (the first failure raises :class:`InvalidTokenError`):

1. shape: three base64url segments, a JSON header, at most ``MAX_TOKEN_LENGTH`` characters;
2. ``alg`` from the allow-list (never ``none``, never an HMAC algorithm, so a public key can
   never be used as an HMAC secret) — reason ``bad_algorithm``;
3. ``typ`` is ``at+jwt`` (a refresh token, ``refresh+jwt``, is refused) — ``wrong_type``;
4. ``kid`` names a key of the JWKS whose type fits ``alg`` — ``unknown_key``;
5. the signature — ``bad_signature``;
6. the claims: ``exp`` / ``nbf`` / ``iat`` with a small leeway (``expired``,
   ``not_yet_valid``), ``iss`` (``wrong_issuer``), ``aud`` (``wrong_audience``), and the
   presence and types of ``sub``, ``jti``, ``scope`` (``malformed``);
7. the required scope, if any — ``insufficient_scope``.

:func:`validate_token` is the same check as a plain function over a key set; the auth service
uses it with its own keys (for refresh tokens and its accounts API).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    SecurityWarning,
)
from joserfc.jwk import KeySet
from joserfc.util import json_b64decode

log = logging.getLogger(__name__)

ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 (a JWT "typ", not a secret)
REFRESH_TOKEN_TYPE: Final = "refresh+jwt"  # noqa: S105
SCOPE_STATIONS_READ: Final = "stations:read"
SCOPE_ADMIN: Final = "admin"
MAX_TOKEN_LENGTH: Final = 8192

# Which JWK key type (and curve) each allowed algorithm may be verified with. Anything not
# listed here (``none``, ``HS*``, RSA) is refused before a key is even looked up.
_KEY_TYPES: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "ES256": ("EC", frozenset({"P-256"})),
}

# joserfc warns on every use of "EdDSA" because RFC 9864 prefers the fully-specified
# "Ed25519". "EdDSA" is what deployed JWT libraries understand, so it stays, quietly.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says about its bearer."""

    subject: str
    scopes: frozenset[str]
    token_id: str
    issued_at: datetime
    expires_at: datetime
    client_id: str | None


@dataclass(frozen=True)
class TokenClaims:
    """A verified token of any type: its header ``typ``, ``kid`` and raw claims."""

    token_type: str
    kid: str
    claims: dict[str, Any]


class InvalidTokenError(Exception):
    """The token must be refused. ``reason`` is a short machine reason, safe to log and count.

    Reasons: ``expired``, ``not_yet_valid``, ``bad_signature``, ``wrong_audience``,
    ``wrong_issuer``, ``unknown_key``, ``wrong_type``, ``insufficient_scope``, ``malformed``,
    ``bad_algorithm``, ``keys_unavailable``. Never show ``reason`` to the client beyond a
    generic message: it helps an attacker more than a user.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailableError(InvalidTokenError):
    """No JWKS could ever be fetched: the caller may answer 503 instead of 401."""

    def __init__(self) -> None:
        super().__init__("keys_unavailable")


def read_header(token: str) -> dict[str, Any]:
    """The token's protected header, without verifying anything; raises ``malformed``."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise InvalidTokenError("malformed")
    try:
        header = json_b64decode(token.split(".", 1)[0].encode("ascii"))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidTokenError("malformed") from None
    if not isinstance(header, dict):
        raise InvalidTokenError("malformed")
    return header


def check_header(
    header: dict[str, Any], expected_type: str, algorithms: Sequence[str]
) -> tuple[str, str]:
    """``(alg, kid)`` of a header that may be verified at all; raises otherwise. Run before
    any key lookup, so a token that can never pass does not trigger a JWKS fetch."""
    alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
    if not isinstance(alg, str) or alg not in algorithms or alg not in _KEY_TYPES:
        raise InvalidTokenError("bad_algorithm")
    if typ != expected_type:
        raise InvalidTokenError("wrong_type")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError("unknown_key")
    return alg, kid


def _key_fits(key: Any, alg: str) -> bool:
    kty, curves = _KEY_TYPES[alg]
    if key.key_type != kty:
        return False
    crv = key.get("crv")
    if crv not in curves:
        return False
    declared_alg = key.get("alg")
    return declared_alg is None or declared_alg == alg


def find_key(keys: KeySet, kid: str, alg: str) -> Any | None:
    """The key with this ``kid`` that may verify ``alg``, or ``None``."""
    for key in keys:
        if key.kid == kid and _key_fits(key, alg):
            return key
    return None


def validate_token(
    token: str,
    *,
    keys: KeySet,
    expected_type: str,
    issuer: str,
    audience: str,
    algorithms: Sequence[str] = ("EdDSA", "ES256"),
    leeway_seconds: float = 30,
    now: Callable[[], float] = time.time,
) -> TokenClaims:
    """Verify ``token`` against ``keys`` (see the module docstring for the checks)."""
    alg, kid = check_header(read_header(token), expected_type, algorithms)
    key = find_key(keys, kid, alg)
    if key is None:
        raise InvalidTokenError("unknown_key")
    try:
        decoded = jwt.decode(token, key, algorithms=[alg])
    except BadSignatureError:
        raise InvalidTokenError("bad_signature") from None
    except (JoseError, ValueError, TypeError):
        raise InvalidTokenError("malformed") from None
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(now()),
        leeway=int(leeway_seconds),
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise InvalidTokenError("expired") from None
    except MissingClaimError:
        raise InvalidTokenError("malformed") from None
    except InvalidClaimError as exc:
        reason = {
            "iss": "wrong_issuer",
            "aud": "wrong_audience",
            "nbf": "not_yet_valid",
            "iat": "not_yet_valid",
        }.get(exc.claim, "malformed")
        if reason == "not_yet_valid" and not isinstance(claims.get(exc.claim), int | float):
            reason = "malformed"
        raise InvalidTokenError(reason) from None
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidTokenError("malformed")
    client_id = claims.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidTokenError("malformed")
    return TokenClaims(token_type=expected_type, kid=kid, claims=claims)


def access_claims(verified: TokenClaims) -> AccessClaims:
    """The typed view of a verified access token."""
    claims = verified.claims
    return AccessClaims(
        subject=claims["sub"],
        scopes=frozenset(claims.get("scope", "").split()),
        token_id=claims["jti"],
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        client_id=claims.get("client_id"),
    )


def check_scope(claims: AccessClaims, required_scope: str | None) -> AccessClaims:
    """Return ``claims`` if they carry ``required_scope``; raise ``insufficient_scope`` if not."""
    if required_scope is not None and required_scope not in claims.scopes:
        raise InvalidTokenError("insufficient_scope")
    return claims


def parse_jwks(document: object, algorithms: Sequence[str]) -> KeySet:
    """The usable public keys of a JWKS document; keys that cannot serve ``algorithms`` are
    dropped (an ``oct`` key in a JWKS must never become an HMAC secret)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") not in {"OKP", "EC"}:
            continue
        public = {k: v for k, v in entry.items() if k != "d"}  # never hold private parts
        try:
            key = KeySet.import_key_set({"keys": [public]}).keys[0]
        except (JoseError, ValueError, TypeError):
            continue
        if key.kid and any(a in _KEY_TYPES and _key_fits(key, a) for a in algorithms):
            keys.append(key)
    return KeySet(keys)


class TokenVerifier:
    """Verifies access tokens with the JWKS published by the auth service.

    One instance per process (keep it in the app's state; it holds the JWKS cache and an HTTP
    client). Safe for concurrent use within one event loop.
    """

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        http_client: httpx.AsyncClient | None = None,
        algorithms: Sequence[str] = ("EdDSA", "ES256"),
        leeway_seconds: float = 30,
        jwks_cache_seconds: float = 300,
        unknown_kid_refresh_seconds: float = 10,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        bad = [a for a in algorithms if a not in _KEY_TYPES]
        if bad:
            raise ValueError(f"algorithms not allowed for access tokens: {bad}")
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._own_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._algorithms = tuple(algorithms)
        self._leeway = leeway_seconds
        self._cache_seconds = jwks_cache_seconds
        self._min_refresh_interval = unknown_kid_refresh_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()

    async def verify_access(self, token: str, *, required_scope: str | None = None) -> AccessClaims:
        """Verify an access token; raise :class:`InvalidTokenError` if it must be refused."""
        _, kid = check_header(read_header(token), ACCESS_TOKEN_TYPE, self._algorithms)
        keys = await self._keys_for(kid)
        verified = validate_token(
            token,
            keys=keys,
            expected_type=ACCESS_TOKEN_TYPE,
            issuer=self._issuer,
            audience=self._audience,
            algorithms=self._algorithms,
            leeway_seconds=self._leeway,
            now=self._wall_clock,
        )
        return check_scope(access_claims(verified), required_scope)

    async def close(self) -> None:
        """Close the HTTP client if this verifier made it."""
        if self._own_client:
            await self._http.aclose()

    async def _keys_for(self, kid: str) -> KeySet:
        now = self._clock()
        if self._keys is None:
            await self._refresh()
        elif self._fetched_at is not None and now - self._fetched_at >= self._cache_seconds:
            await self._refresh()  # stale: try, but keep the old keys on failure
        elif not any(k.kid == kid for k in self._keys):
            await self._refresh()  # a new key may have been rotated in
        if self._keys is None:
            raise KeysUnavailableError()
        return self._keys

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock()
            # Another task fetched (or failed to) a moment ago: don't fetch again. With no keys
            # at all nothing verifies, so retry sooner, but still never once per request.
            interval = (
                self._min_refresh_interval if self._keys else min(1.0, self._min_refresh_interval)
            )
            if self._attempted_at is not None and now - self._attempted_at < interval:
                return
            self._attempted_at = now
            try:
                response = await self._http.get(
                    self._jwks_url, headers={"Accept": "application/json"}
                )
                response.raise_for_status()
                keys = parse_jwks(json.loads(response.content), self._algorithms)
            except (httpx.HTTPError, ValueError) as exc:
                log.warning(
                    "JWKS fetch failed; verifying from cache"
                    if self._keys
                    else "JWKS fetch failed",
                    extra={"jwks_url": self._jwks_url, "error": repr(exc)},
                )
                return
            self._keys = keys
            self._fetched_at = now

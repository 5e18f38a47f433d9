"""Minting signed JWTs (pure: the key and the clock are passed in)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from fuelhub_common.tokens import ACCESS_TOKEN_TYPE, REFRESH_TOKEN_TYPE
from joserfc import jwt

from fuelhub_auth.keys import SIGNING_ALG, SigningKey


@dataclass(frozen=True)
class Minted:
    token: str
    jti: str
    issued_at: int
    expires_at: int


def new_jti() -> str:
    return uuid.uuid4().hex


def _sign(key: SigningKey, typ: str, claims: dict[str, object]) -> str:
    # kid always set explicitly: with a key set and no kid, joserfc would pick a key at random.
    header = {"alg": SIGNING_ALG, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims, key.key, algorithms=[SIGNING_ALG])


def mint_access(
    *,
    key: SigningKey,
    issuer: str,
    audience: str,
    subject: str,
    scopes: Iterable[str],
    ttl_seconds: int,
    now: int,
    client_id: str | None = None,
) -> Minted:
    """An access token (``typ`` ``at+jwt``, RFC 9068 claims)."""
    jti = new_jti()
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": jti,
        "scope": " ".join(sorted(set(scopes))),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    return Minted(_sign(key, ACCESS_TOKEN_TYPE, claims), jti, now, now + ttl_seconds)


def mint_refresh(
    *, key: SigningKey, issuer: str, subject: str, jti: str, now: int, expires_at: int
) -> Minted:
    """A refresh token (``typ`` ``refresh+jwt``); its audience is auth itself, never the API."""
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": issuer,
        "sub": subject,
        "iat": now,
        "exp": expires_at,
        "jti": jti,
    }
    return Minted(_sign(key, REFRESH_TOKEN_TYPE, claims), jti, now, expires_at)

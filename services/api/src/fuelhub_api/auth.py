"""Bearer-token check for every data endpoint, from auth's cached JWKS (no call per request).

A verified token is remembered (by its exact text) for at most ``_REMEMBER_SECONDS`` and never
past its expiry, which spares the signature check on the hot path; a key rotated out stops
being accepted within that time, well inside the JWKS cache period anyway.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

from fuelhub_common.tokens import (
    SCOPE_STATIONS_READ,
    AccessClaims,
    InvalidTokenError,
    KeysUnavailableError,
)

_REMEMBER_SECONDS = 60.0
_REMEMBER_MAX = 10_000


class AccessVerifier(Protocol):
    async def verify_access(
        self, token: str, *, required_scope: str | None = None
    ) -> AccessClaims: ...


class AuthError(Exception):
    """Refuse the request: 401 (no or bad token), 403 (scope) or 503 (keys unavailable)."""

    def __init__(self, status: int, challenge: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.challenge = challenge
        self.message = message


MISSING = AuthError(401, 'Bearer realm="fuelhub"', "authentication required: send a bearer token")


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or AuthError."""
    if not header:
        raise MISSING
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise MISSING
    return token


class Authenticator:
    """Verifies bearer tokens and remembers recent successes."""

    def __init__(self, verifier: AccessVerifier, scope: str = SCOPE_STATIONS_READ) -> None:
        self._verifier = verifier
        self._scope = scope
        self._seen: OrderedDict[str, tuple[float, AccessClaims]] = OrderedDict()

    def remembered(self, header: str | None) -> AccessClaims | None:
        """The claims of a recently verified, unexpired token in ``header``; no verification."""
        if not header or header[:7].lower() != "bearer ":
            return None
        remembered = self._seen.get(header[7:].strip())
        if remembered is None or remembered[0] <= time.time():
            return None
        return remembered[1]

    async def authenticate(self, header: str | None) -> AccessClaims:
        token = bearer_token(header)
        now = time.time()
        remembered = self._seen.get(token)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        try:
            claims = await self._verifier.verify_access(token, required_scope=self._scope)
        except KeysUnavailableError:
            raise AuthError(503, "", "token keys unavailable; retry shortly") from None
        except InvalidTokenError as exc:
            if exc.reason == "insufficient_scope":
                raise AuthError(
                    403,
                    f'Bearer realm="fuelhub", error="insufficient_scope", scope="{self._scope}"',
                    f"this token lacks the {self._scope} scope",
                ) from None
            raise AuthError(
                401,
                'Bearer realm="fuelhub", error="invalid_token"',
                "invalid or expired token",
            ) from None
        until = min(now + _REMEMBER_SECONDS, claims.expires_at.timestamp())
        self._seen[token] = (until, claims)
        if len(self._seen) > _REMEMBER_MAX:
            self._seen.popitem(last=False)
        return claims

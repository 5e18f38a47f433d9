"""Token operations: password login, refresh rotation, client credentials, revocation.

Routes translate the exceptions raised here into the wire formats (seed-style ``{"detail"}``
bodies on ``/api/v1``, RFC 6749 error objects on ``/oauth``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fuelhub_common.tokens import (
    ACCESS_TOKEN_TYPE,
    REFRESH_TOKEN_TYPE,
    AccessClaims,
    InvalidTokenError,
    access_claims,
    check_scope,
    read_header,
    validate_token,
)
from sqlalchemy import delete, exists
from sqlalchemy.ext.asyncio import AsyncSession

from fuelhub_auth import accounts
from fuelhub_auth.db import Database
from fuelhub_auth.issuing import Minted, mint_access, mint_refresh, new_jti
from fuelhub_auth.keys import KeySource
from fuelhub_auth.metrics import AuthMetrics
from fuelhub_auth.models import RefreshFamily, RefreshToken, User
from fuelhub_auth.passwords import Hasher
from fuelhub_auth.ratelimit import LoginThrottle
from fuelhub_auth.refresh import Verdict, judge_refresh
from fuelhub_auth.settings import AuthSettings

log = logging.getLogger(__name__)


class ThrottledError(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


class BadCredentialsError(Exception):
    """Wrong name, wrong password or disabled account: one error, so nothing leaks."""


class RefreshRefusedError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidClientError(Exception):
    pass


class InvalidScopeError(Exception):
    pass


class UnsupportedTokenTypeError(Exception):
    pass


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True)
class ClientToken:
    access: Minted
    scopes: list[str]


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class TokenService:
    def __init__(
        self,
        *,
        settings: AuthSettings,
        db: Database,
        keys: KeySource,
        hasher: Hasher,
        throttle: LoginThrottle,
        metrics: AuthMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._db = db
        self._keys = keys
        self._hasher = hasher
        self._throttle = throttle
        self._metrics = metrics
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def _fail(self, reason: str, **context: object) -> None:
        self._metrics.failures.labels(reason=reason).inc()
        if context:  # an audit trail of refused logins; never the password
            log.info("token request refused", extra={"reason": reason, **context})

    def _check_throttle(self, name: str, address: str) -> None:
        wait = self._throttle.retry_after(name, address)
        if wait is not None:
            self._fail("throttled", account=name[:160], address=address)
            raise ThrottledError(wait)

    def _access(
        self, subject: str, scopes: Sequence[str], now: int, client_id: str | None = None
    ) -> Minted:
        return mint_access(
            key=self._keys.ring().signing_key,
            issuer=self._settings.auth_issuer,
            audience=self._settings.auth_audience,
            subject=subject,
            scopes=scopes,
            ttl_seconds=self._settings.auth_access_ttl_seconds,
            now=now,
            client_id=client_id,
        )

    async def login(self, username: str, password: str, address: str) -> TokenPair:
        """The seed's password login: a new refresh family and an access token."""
        self._check_throttle(f"user:{username}", address)
        async with self._db.transaction() as session:
            user = await accounts.find_user(session, username)
            stored_hash = user.password_hash if user is not None else None
        # The hash runs outside any transaction: it takes tens of milliseconds.
        valid, new_hash = await self._hasher.verify(password, stored_hash)
        if not valid or user is None:
            self._throttle.failed(f"user:{username}", address)
            self._fail("bad_credentials", account=f"user:{username[:150]}", address=address)
            raise BadCredentialsError()
        if not user.enabled:
            self._fail("disabled", account=f"user:{username}", address=address)
            raise BadCredentialsError()
        self._throttle.succeeded(f"user:{username}")
        now = self._now()
        settings = self._settings
        async with self._db.transaction() as session:
            current = await session.get(User, user.id, with_for_update=True)
            if current is None or not current.enabled:  # disabled meanwhile
                self._fail("disabled")
                raise BadCredentialsError()
            if new_hash is not None:
                current.password_hash = new_hash
            family = RefreshFamily(
                id=uuid.uuid4(),
                user_id=current.id,
                created_at=_at(now),
                expires_at=_at(now + settings.auth_refresh_family_max_seconds),
                max_used_generation=0,
            )
            session.add(family)
            refresh = self._new_refresh(
                session, family, subject=current.username, generation=1, parent=None, now=now
            )
            access = self._access(current.username, current.scopes, now)
        self._metrics.tokens_issued.labels(grant="password").inc()
        return TokenPair(access=access.token, refresh=refresh.token)

    def _new_refresh(
        self,
        session: AsyncSession,
        family: RefreshFamily,
        *,
        subject: str,
        generation: int,
        parent: str | None,
        now: int,
    ) -> Minted:
        expires = min(
            now + self._settings.auth_refresh_ttl_seconds, int(family.expires_at.timestamp())
        )
        jti = new_jti()
        session.add(
            RefreshToken(
                jti=jti,
                family_id=family.id,
                generation=generation,
                parent_jti=parent,
                issued_at=_at(now),
                expires_at=_at(expires),
                use_count=0,
            )
        )
        return mint_refresh(
            key=self._keys.ring().signing_key,
            issuer=self._settings.auth_issuer,
            subject=subject,
            jti=jti,
            now=now,
            expires_at=expires,
        )

    def _verify_refresh(self, token: str) -> str:
        """The ``jti`` of a genuine, unexpired refresh token; raises RefreshRefusedError."""
        try:
            verified = validate_token(
                token,
                keys=self._keys.ring().verification_keys(),
                expected_type=REFRESH_TOKEN_TYPE,
                issuer=self._settings.auth_issuer,
                audience=self._settings.auth_issuer,
                leeway_seconds=0,
                now=self._clock,
            )
        except InvalidTokenError as exc:
            self._fail(f"refresh_{exc.reason}")
            raise RefreshRefusedError(exc.reason) from None
        return str(verified.claims["jti"])

    async def refresh(self, token: str) -> TokenPair:
        """A new access token and a successor refresh token (see :mod:`fuelhub_auth.refresh`)."""
        jti = self._verify_refresh(token)
        now = self._now()
        family: RefreshFamily | None = None
        user: User | None = None
        async with self._db.transaction() as session:
            # Locks in one order, token then family: the family lock serialises concurrent
            # refreshes of one family, the token lock keeps its use count exact.
            record = await session.get(RefreshToken, jti, with_for_update=True)
            if record is None:
                verdict = Verdict.REVOKED
            else:
                family = await session.get(RefreshFamily, record.family_id, with_for_update=True)
                user = await session.get(User, family.user_id) if family else None
                if family is None or user is None:
                    verdict = Verdict.REVOKED
                else:
                    verdict = judge_refresh(
                        generation=record.generation,
                        max_used_generation=family.max_used_generation,
                        family_revoked=family.revoked_at is not None,
                        family_expired=family.expires_at.timestamp() <= now,
                        user_enabled=user.enabled,
                    )
            if verdict in (Verdict.REUSED, Verdict.DISABLED) and family is not None:
                family.revoked_at = _at(now)
                family.revoked_reason = verdict.value
                if verdict is Verdict.REUSED:
                    log.warning(
                        "refresh token reuse: family revoked",
                        extra={"family_id": str(family.id), "user_id": family.user_id},
                    )
            if verdict is Verdict.ROTATE:
                assert record is not None
                assert family is not None
                assert user is not None
                record.first_used_at = record.first_used_at or _at(now)
                record.use_count += 1
                family.max_used_generation = max(family.max_used_generation, record.generation)
                successor = self._new_refresh(
                    session,
                    family,
                    subject=user.username,
                    generation=record.generation + 1,
                    parent=jti,
                    now=now,
                )
                access = self._access(user.username, user.scopes, now)
        # Outside the transaction: a revocation above is committed before the refusal.
        if verdict is not Verdict.ROTATE:
            self._fail(f"refresh_{verdict.value}")
            raise RefreshRefusedError(verdict.value)
        self._metrics.tokens_issued.labels(grant="refresh_token").inc()
        return TokenPair(access=access.token, refresh=successor.token)

    async def client_credentials(
        self, client_id: str, secret: str, requested: Sequence[str] | None, address: str
    ) -> ClientToken:
        """RFC 6749 §4.4: an access token for an authenticated, enabled client."""
        self._check_throttle(f"client:{client_id}", address)
        async with self._db.transaction() as session:
            client = await accounts.find_client(session, client_id)
        valid, _ = await self._hasher.verify(secret, client.secret_hash if client else None)
        if not valid or client is None:
            self._throttle.failed(f"client:{client_id}", address)
            self._fail("invalid_client", account=f"client:{client_id[:100]}", address=address)
            raise InvalidClientError()
        if not client.enabled:
            self._fail("invalid_client")
            raise InvalidClientError()
        self._throttle.succeeded(f"client:{client_id}")
        allowed = set(client.scopes)
        scopes = sorted(allowed if requested is None else set(requested))
        if not set(scopes) <= allowed or not scopes:
            self._fail("invalid_scope")
            raise InvalidScopeError()
        access = self._access(client.client_id, scopes, self._now(), client_id=client.client_id)
        self._metrics.tokens_issued.labels(grant="client_credentials").inc()
        return ClientToken(access=access, scopes=scopes)

    async def revoke(self, token: str) -> None:
        """RFC 7009: revoke a refresh token's family. Unknown or invalid tokens are ignored
        (the RFC asks for 200 either way); access tokens are not revocable (they're short)."""
        try:
            typ = read_header(token).get("typ")
        except InvalidTokenError:
            return
        if typ == ACCESS_TOKEN_TYPE:
            raise UnsupportedTokenTypeError()
        try:
            jti = self._verify_refresh(token)
        except RefreshRefusedError:
            return
        async with self._db.transaction() as session:
            record = await session.get(RefreshToken, jti)
            if record is None:
                return
            family = await session.get(RefreshFamily, record.family_id, with_for_update=True)
            if family is not None and family.revoked_at is None:
                family.revoked_at = _at(self._now())
                family.revoked_reason = "revoked"

    def verify_access(self, token: str, required_scope: str | None) -> AccessClaims:
        """Verify an access token with this process's own keys (the accounts API)."""
        verified = validate_token(
            token,
            keys=self._keys.ring().verification_keys(),
            expected_type=ACCESS_TOKEN_TYPE,
            issuer=self._settings.auth_issuer,
            audience=self._settings.auth_audience,
            now=self._clock,
        )
        return check_scope(access_claims(verified), required_scope)

    async def prune(self) -> int:
        """Delete refresh families none of whose tokens is still unexpired."""
        now = _at(self._now())
        live_token = exists().where(
            RefreshToken.family_id == RefreshFamily.id, RefreshToken.expires_at > now
        )
        async with self._db.transaction() as session:
            result = await session.execute(delete(RefreshFamily).where(~live_token))
        return int(getattr(result, "rowcount", 0) or 0)

"""Sign-in through the auth service: only accounts with the ``admin`` scope get a session.

The session is Starlette's signed cookie (HttpOnly, SameSite=Strict, path ``/admin``); it holds
the username and the access and refresh tokens, so the accounts pages can call auth's accounts
API as the signed-in admin. Every request re-verifies the access token offline (JWKS cached)
and refreshes it through auth when it has expired; a refresh that fails ends the session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from fuelhub_common.tokens import (
    SCOPE_ADMIN,
    AccessClaims,
    InvalidTokenError,
    KeysUnavailableError,
    TokenVerifier,
)
from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from fuelhub_store.admin.audit import current_actor

log = logging.getLogger(__name__)

SESSION_COOKIE = "fuelhub_admin"
MAX_FIELD = 1024


class LoginError(Exception):
    """Sign-in refused; ``str(exc)`` is shown on the login page."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: str
    refresh: str


class AuthClient:
    """The calls the admin makes to the auth service's token endpoints."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def password_login(self, username: str, password: str, client_ip: str) -> TokenPair:
        try:
            response = await self._http.post(
                "/api/v1/token/",
                json={"username": username, "password": password},
                headers={"X-Forwarded-For": client_ip},
            )
        except httpx.HTTPError as exc:
            log.warning("auth unreachable at login", extra={"error": repr(exc)})
            raise LoginError("The auth service is unavailable; try again shortly.", 503) from None
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "a few")
            raise LoginError(f"Too many failed sign-ins; try again in {wait} seconds.", 429)
        if response.status_code in (400, 401):
            raise LoginError("Wrong username or password.", 400)
        if response.status_code != 200:
            raise LoginError("The auth service is unavailable; try again shortly.", 503)
        return _pair(response)

    async def refresh(self, refresh_token: str) -> TokenPair | None:
        try:
            response = await self._http.post(
                "/api/v1/token/refresh/", json={"refresh": refresh_token}
            )
        except httpx.HTTPError:
            return None
        return _pair(response) if response.status_code == 200 else None


def _pair(response: httpx.Response) -> TokenPair:
    body: Any = response.json()
    return TokenPair(access=str(body["access"]), refresh=str(body["refresh"]))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class AdminAuthBackend(AuthenticationBackend):
    """sqladmin's authentication hooks, backed by auth's tokens."""

    def __init__(
        self,
        *,
        secret_key: str,
        verifier: TokenVerifier,
        auth: AuthClient,
        max_age: int,
        secure: bool,
    ) -> None:
        super().__init__(
            secret_key=secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=max_age,
            path="/admin",
            same_site="strict",
            https_only=secure,
        )
        self._verifier = verifier
        self._auth = auth
        self.templates: Any = None  # set once the Admin exists (to render the login page)

    async def login(self, request: Request) -> Response | bool:
        form = await request.form()
        username, password = form.get("username"), form.get("password")
        try:
            if not isinstance(username, str) or not isinstance(password, str):
                raise LoginError("Enter a username and a password.", 400)
            username, password = username.strip(), password
            if not username or not password:
                raise LoginError("Enter a username and a password.", 400)
            if len(username) > MAX_FIELD or len(password) > MAX_FIELD or "\x00" in username:
                raise LoginError("Wrong username or password.", 400)
            pair = await self._auth.password_login(username, password, client_ip(request))
            claims = await self._verify(pair.access)
        except LoginError as exc:
            return await self._login_page(request, str(exc), exc.status_code)
        request.session.clear()
        self._store(request, claims, pair)
        log.info("admin signed in", extra={"user": claims.subject})
        return True

    async def _verify(self, access: str) -> AccessClaims:
        try:
            return await self._verifier.verify_access(access, required_scope=SCOPE_ADMIN)
        except KeysUnavailableError:
            raise LoginError("The auth service is unavailable; try again shortly.", 503) from None
        except InvalidTokenError as exc:
            if exc.reason == "insufficient_scope":
                raise LoginError(
                    "This account is not an administrator: the admin role is required.", 403
                ) from None
            log.warning("token from auth refused", extra={"reason": exc.reason})
            raise LoginError("Sign-in failed; try again.", 400) from None

    async def _login_page(self, request: Request, error: str, status_code: int) -> Response:
        response: Response = await self.templates.TemplateResponse(
            request, "sqladmin/login.html", {"error": error}, status_code=status_code
        )
        return response

    @staticmethod
    def _store(request: Request, claims: AccessClaims, pair: TokenPair) -> None:
        request.session.update(
            {"user_id": claims.subject, "access": pair.access, "refresh": pair.refresh}
        )

    async def logout(self, request: Request) -> Response | bool:
        request.session.clear()
        return False  # back to the login page

    async def authenticate(self, request: Request) -> Response | bool:
        access = request.session.get("access")
        if not isinstance(access, str):
            return False
        try:
            claims = await self._verifier.verify_access(access, required_scope=SCOPE_ADMIN)
        except KeysUnavailableError:
            return PlainTextResponse("The auth service is unavailable; try again.", 503)
        except InvalidTokenError as exc:
            claims_or_none = await self._refreshed(request) if exc.reason == "expired" else None
            if claims_or_none is None:
                request.session.clear()
                return False
            claims = claims_or_none
        current_actor.set(claims.subject)
        return True

    async def _refreshed(self, request: Request) -> AccessClaims | None:
        refresh = request.session.get("refresh")
        if not isinstance(refresh, str):
            return None
        pair = await self._auth.refresh(refresh)
        if pair is None:
            return None
        try:
            claims = await self._verifier.verify_access(pair.access, required_scope=SCOPE_ADMIN)
        except InvalidTokenError:
            return None  # e.g. the admin scope was withdrawn
        self._store(request, claims, pair)
        return claims


def session_user(request: Request) -> str:
    """The signed-in admin's username (only call behind ``login_required``)."""
    user = request.session.get("user_id")
    return user if isinstance(user, str) else "unknown"


def session_token(request: Request) -> str:
    token = request.session.get("access")
    return token if isinstance(token, str) else ""

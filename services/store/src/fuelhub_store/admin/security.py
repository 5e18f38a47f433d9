"""Request guards for the admin: same-origin check on unsafe methods (CSRF), a body-size cap,
security headers, and the per-session token the admin's own forms carry."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def _origin_host(value: str) -> str | None:
    parts = urlsplit(value)
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def same_origin(headers: Headers) -> bool:
    """True when the request's Origin (or Referer) names this host, directly or as the gateway
    forwarded it. A cross-site page can send neither a matching Origin nor X-Forwarded-Host."""
    claimed = headers.get("origin")
    source = _origin_host(claimed) if claimed and claimed != "null" else None
    if source is None:
        referer = headers.get("referer")
        source = _origin_host(referer) if referer else None
    if source is None:
        return False
    hosts = {h.strip().lower() for h in headers.get("x-forwarded-host", "").split(",") if h}
    hosts.add(headers.get("host", "").lower())
    return source in hosts


class AdminGuard:
    """ASGI middleware for everything under ``/admin``: CSRF origin check on unsafe methods,
    body cap (413), and security headers on every response."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, prefix: str = "/admin") -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.prefix or path.startswith(self.prefix)):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] not in SAFE_METHODS and not same_origin(headers):
            response = PlainTextResponse(
                "Refused: the request did not come from an admin page (CSRF check).", 403
            )
            await response(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, capped_receive, with_headers)
        except _BodyTooLargeError:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes / 1024 / 1024
        response = PlainTextResponse(
            f"Refused: the request is larger than {limit:.0f} MB (icons: at most 2 MB).", 413
        )
        await response(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass


def csrf_token(request: Request) -> str:
    """This session's form token (made on first use)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, form: Mapping[str, object]) -> bool:
    expected = request.session.get(CSRF_FIELD)
    given = form.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and secrets.compare_digest(expected.encode(), given.encode())
    )

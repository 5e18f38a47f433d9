"""Reading small request bodies: JSON, form or multipart, size-capped, with clear 4xx errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
JSON_TYPE = "application/json"


class BadBodyError(Exception):
    """The body can't be read as fields; ``status`` is 400 or 415."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _TooLargeError(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(send, 413 if declared >= 0 else 400)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLargeError()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLargeError:
            if started:
                raise
            await self._refuse(send, 413)

    async def _refuse(self, send: Send, status: int) -> None:
        detail = (
            f"Request body too large (at most {self.max_bytes} bytes)."
            if status == 413
            else "Invalid Content-Length header."
        )
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _clean(name: str, value: str | None) -> str | None:
    # Postgres text cannot hold NUL; refuse it here rather than fail in the database.
    if value is not None and "\x00" in value:
        raise BadBodyError(400, f"'{name}' must not contain NUL characters.")
    return value


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_fields(
    request: Request, *, allow_json: bool = True, reject_duplicates: bool = False
) -> dict[str, str | None]:
    """The body's top-level fields as strings (``None`` for a JSON null).

    Raises :class:`BadBodyError`: 415 for another media type, 400 for a body that doesn't
    parse, a non-string value, a file, or (with ``reject_duplicates``) a repeated field.
    """
    kind = media_type(request)
    if kind == JSON_TYPE and allow_json:
        raw = await request.body()
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadBodyError(400, f"JSON parse error - {exc}") from None
        if not isinstance(document, dict):
            raise BadBodyError(400, "Expected a JSON object with the fields.")
        fields: dict[str, str | None] = {}
        for name, value in document.items():
            if value is not None and not isinstance(value, str):
                raise BadBodyError(400, f"'{name}' must be a string.")
            fields[name] = _clean(name, value)
        return fields
    if kind in FORM_TYPES:
        # Starlette answers a malformed multipart body with a 400 itself.
        form = await request.form(max_files=0, max_fields=32)
        result: dict[str, str | None] = {}
        for name in form:
            values = form.getlist(name)
            if reject_duplicates and len(values) > 1:
                raise BadBodyError(400, f"'{name}' must not be repeated.")
            value = values[-1]
            if isinstance(value, UploadFile):
                raise BadBodyError(400, f"'{name}' must be a plain field, not a file.")
            result[name] = _clean(name, value)
        return result
    shown = kind or "(none)"
    raise BadBodyError(415, f'Unsupported media type "{shown}" in request.')

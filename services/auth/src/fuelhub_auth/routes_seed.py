"""The seed's token endpoints, wire-compatible with the original server (simplejwt)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fuelhub_auth.bodies import BadBodyError, read_fields
from fuelhub_auth.deps import ClientAddressDep, TokensDep
from fuelhub_auth.service import BadCredentialsError, RefreshRefusedError, ThrottledError

router = APIRouter(prefix="/api/v1", tags=["v1 (seed-compatible)"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_USERNAME = 150
MAX_PASSWORD = 1024
MAX_TOKEN = 8192


def _fields_schema(*names: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {name: {"type": "string", "writeOnly": True} for name in names},
        "required": list(names),
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                kind: {"schema": schema}
                for kind in (
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                )
            },
        }
    }


def _detail(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=NO_STORE)


def _throttled(exc: ThrottledError) -> JSONResponse:
    response = _detail(429, "Too many failed attempts; try again later.")
    response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


def _required(fields: dict[str, str | None], names: tuple[str, ...]) -> JSONResponse | None:
    """A DRF-style 400 naming each missing or blank field, or ``None``."""
    errors = {}
    for name in names:
        value = fields.get(name)
        if value is None:
            errors[name] = ["This field is required."]
        elif value == "":
            errors[name] = ["This field may not be blank."]
    if not errors:
        return None
    summary = "; ".join(f"{name}: {msgs[0]}" for name, msgs in errors.items())
    return _detail(400, summary, **errors)


@router.post(
    "/token/",
    summary="Obtain an access and refresh token pair (password grant, kept for existing clients)",
    description="Takes `username` and `password` (JSON, form or multipart) and returns an "
    "`access` and a `refresh` JWT. Kept unchanged for clients of the original server; "
    "**new clients should use the OAuth 2.0 client credentials grant at `/oauth/token`.**",
    openapi_extra=_fields_schema("username", "password"),
    responses={
        200: {
            "description": "The token pair.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"access": {"type": "string"}, "refresh": {"type": "string"}},
                        "required": ["access", "refresh"],
                    }
                }
            },
        },
        400: {"description": "A field is missing, blank or not a string."},
        401: {"description": "No active account found with the given credentials."},
        413: {"description": "Body too large."},
        415: {"description": "Unsupported media type."},
        429: {"description": "Too many failed logins; see `Retry-After`."},
    },
)
async def obtain_token_pair(
    request: Request, tokens: TokensDep, address: ClientAddressDep
) -> JSONResponse:
    try:
        fields = await read_fields(request)
    except BadBodyError as exc:
        return _detail(exc.status, exc.message)
    if (missing := _required(fields, ("username", "password"))) is not None:
        return missing
    username, password = str(fields["username"]), str(fields["password"])
    if len(username) > MAX_USERNAME:
        return _detail(400, f"username: at most {MAX_USERNAME} characters.")
    if len(password) > MAX_PASSWORD:
        return _detail(400, f"password: at most {MAX_PASSWORD} characters.")
    try:
        pair = await tokens.login(username, password, address)
    except ThrottledError as exc:
        return _throttled(exc)
    except BadCredentialsError:
        return _detail(401, "No active account found with the given credentials")
    return JSONResponse({"access": pair.access, "refresh": pair.refresh}, headers=NO_STORE)


@router.post(
    "/token/refresh/",
    summary="Refresh: a new access token and a rotated refresh token",
    description="Takes `refresh` and returns a new `access` and a new `refresh`. Clients may "
    "keep using their first refresh token (the original server did not rotate) until a rotated "
    "one has been used; from then on the older ones are refused and the whole family is "
    "revoked (see docs/auth.md).",
    openapi_extra=_fields_schema("refresh"),
    responses={
        200: {
            "description": "New tokens.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"access": {"type": "string"}, "refresh": {"type": "string"}},
                        "required": ["access", "refresh"],
                    }
                }
            },
        },
        400: {"description": "`refresh` missing or blank."},
        401: {"description": "Token is invalid or expired."},
        413: {"description": "Body too large."},
        415: {"description": "Unsupported media type."},
    },
)
async def refresh_token(request: Request, tokens: TokensDep) -> JSONResponse:
    try:
        fields = await read_fields(request)
    except BadBodyError as exc:
        return _detail(exc.status, exc.message)
    if (missing := _required(fields, ("refresh",))) is not None:
        return missing
    token = str(fields["refresh"])
    try:
        if len(token) > MAX_TOKEN:
            raise RefreshRefusedError("malformed")
        pair = await tokens.refresh(token)
    except RefreshRefusedError:
        return _detail(401, "Token is invalid or expired", code="token_not_valid")
    return JSONResponse({"access": pair.access, "refresh": pair.refresh}, headers=NO_STORE)

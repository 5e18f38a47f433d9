"""OAuth 2.0 endpoints: client credentials (RFC 6749 §4.4), revocation (RFC 7009), metadata
(RFC 8414) and the JWKS.

authlib's server classes are synchronous and framework-bound; the grant is small, so it is
implemented here with authlib's RFC 6749 error classes for the exact error codes and headers.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any
from urllib.parse import unquote_plus

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fuelhub_auth import service as svc
from fuelhub_auth.bodies import BadBodyError, media_type, read_fields
from fuelhub_auth.deps import ClientAddressDep, ContainerDep, TokensDep
from fuelhub_auth.schemas import KNOWN_SCOPES

router = APIRouter(tags=["OAuth 2.0"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM = "application/x-www-form-urlencoded"
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def _description(text: str) -> str:
    """``text`` reduced to what RFC 6749 allows in ``error_description`` (it may quote the
    client's input, which can hold anything)."""
    allowed = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)
    return allowed[:200]


def _error(error: OAuth2Error, extra_headers: dict[str, str] | None = None) -> JSONResponse:
    status, body, headers = error()
    response = JSONResponse(body, status_code=status, headers=dict(headers))
    for name, value in (extra_headers or {}).items():
        response.headers[name] = value
    return response


def _form_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                FORM: {"schema": {"type": "object", "properties": properties, "required": required}}
            },
        }
    }


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(client_id, secret)`` from HTTP Basic (RFC 6749 §2.3.1: each form-urlencoded)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidRequestError("Only HTTP Basic client authentication is supported.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidRequestError("Malformed HTTP Basic credentials.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or "\x00" in decoded:
        raise InvalidRequestError("Malformed HTTP Basic credentials.")
    return unquote_plus(client_id), unquote_plus(secret)


def _client_credentials(
    request: Request, fields: dict[str, str | None]
) -> tuple[tuple[str, str], bool]:
    """The client's id and secret, and whether they came by HTTP Basic."""
    basic = _basic_credentials(request)
    body_id, body_secret = fields.get("client_id"), fields.get("client_secret")
    if basic is not None:
        if body_secret is not None:
            raise InvalidRequestError("Use one client authentication method, not two.")
        if body_id is not None and body_id != basic[0]:
            raise InvalidRequestError("client_id does not match the authenticated client.")
        return basic, True
    if not body_id or body_secret is None:
        raise InvalidClientError("Client authentication is required.", status_code=401)
    return (body_id, body_secret), False


def _requested_scopes(fields: dict[str, str | None]) -> list[str] | None:
    raw = fields.get("scope")
    if raw is None:
        return None
    scopes = raw.split(" ")
    if not all(SCOPE_TOKEN.match(s) for s in scopes) or not set(scopes) <= KNOWN_SCOPES:
        raise InvalidScopeError("Unknown or malformed scope.")
    return scopes


async def _form_fields(request: Request) -> dict[str, str | None]:
    if media_type(request) != FORM:
        raise InvalidRequestError(f"The body must be {FORM}.")
    try:
        return await read_fields(request, allow_json=False, reject_duplicates=True)
    except BadBodyError as exc:
        raise InvalidRequestError(_description(exc.message)) from None


@router.post(
    "/oauth/token",
    summary="OAuth 2.0 token endpoint: client credentials grant (RFC 6749 §4.4)",
    description="For services: authenticate with HTTP Basic (preferred) or `client_id` and "
    "`client_secret` in the form body, and get a short-lived access token. No refresh token "
    "is issued (a client can always authenticate again).",
    openapi_extra=_form_schema(
        {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": {"type": "string", "description": "Space-separated; default: all allowed."},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "writeOnly": True},
        },
        ["grant_type"],
    ),
    responses={
        200: {"description": "`access_token`, `token_type`, `expires_in`, `scope`."},
        400: {"description": "RFC 6749 §5.2 error object."},
        401: {"description": "`invalid_client`."},
        413: {"description": "Body too large."},
        429: {"description": "Too many failed attempts; see `Retry-After`."},
    },
)
async def oauth_token(
    request: Request, tokens: TokensDep, address: ClientAddressDep, container: ContainerDep
) -> JSONResponse:
    used_basic = False
    try:
        fields = await _form_fields(request)
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise InvalidRequestError("Missing 'grant_type'.")
        if grant_type != "client_credentials":
            # authlib's UnsupportedGrantTypeError echoes the client's value; this does not.
            raise OAuth2Error(
                "Only the client_credentials grant is supported here.",
                error="unsupported_grant_type",
                status_code=400,
            )
        (client_id, secret), used_basic = _client_credentials(request, fields)
        scopes = _requested_scopes(fields)
        issued = await tokens.client_credentials(client_id, secret, scopes, address)
    except svc.ThrottledError as exc:
        error = InvalidClientError("Too many failed attempts; try again later.", status_code=429)
        return _error(error, {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    except svc.InvalidClientError:
        challenge = {"WWW-Authenticate": 'Basic realm="fuelhub"'} if used_basic else None
        return _error(
            InvalidClientError("Client authentication failed.", status_code=401), challenge
        )
    except svc.InvalidScopeError:
        return _error(InvalidScopeError("The requested scope is not allowed for this client."))
    except OAuth2Error as error:
        container.metrics.failures.labels(reason=error.error or "invalid_request").inc()
        return _error(error)
    body = {
        "access_token": issued.access.token,
        "token_type": "Bearer",
        "expires_in": issued.access.expires_at - issued.access.issued_at,
        "scope": " ".join(issued.scopes),
    }
    return JSONResponse(body, headers=NO_STORE)


@router.post(
    "/oauth/revoke",
    response_class=Response,  # 200 with an empty body
    summary="Revoke a refresh token and its whole family (RFC 7009)",
    description="Takes `token` (and optionally `token_type_hint`). Answers 200 whether or not "
    "the token was valid, as RFC 7009 asks. Access tokens are short-lived and not revocable "
    "(`unsupported_token_type`). Possession of a refresh token is enough to revoke it.",
    openapi_extra=_form_schema(
        {"token": {"type": "string"}, "token_type_hint": {"type": "string"}}, ["token"]
    ),
    responses={
        200: {"description": "Revoked, or nothing to revoke."},
        400: {"description": "RFC 6749 §5.2 error object."},
        413: {"description": "Body too large."},
    },
)
async def oauth_revoke(request: Request, tokens: TokensDep) -> Response:
    try:
        fields = await _form_fields(request)
        token = fields.get("token")
        if not token:
            raise InvalidRequestError("Missing 'token'.")
        try:
            await tokens.revoke(token)
        except svc.UnsupportedTokenTypeError:
            # authlib's UnsupportedTokenTypeError is its resource server's 401; RFC 7009 §2.2.1
            # wants the RFC 6749 §5.2 form, a 400.
            raise OAuth2Error(
                "Access tokens expire on their own.",
                error="unsupported_token_type",
                status_code=400,
            ) from None
    except OAuth2Error as error:
        return _error(error)
    return Response(status_code=200, headers=NO_STORE)


@router.get("/.well-known/jwks.json", summary="Public signing keys (JWKS)")
async def jwks(container: ContainerDep) -> JSONResponse:
    # Short cache: verifiers must see a rotated-in key soon; they also refetch on unknown kid.
    return JSONResponse(
        container.keys.ring().jwks(), headers={"Cache-Control": "public, max-age=300"}
    )


def server_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "grant_types_supported": ["client_credentials"],
        # No authorization endpoint: there is no response type to offer.
        "response_types_supported": [],
        "scopes_supported": sorted(KNOWN_SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "service_documentation": f"{issuer}/docs",
    }


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
)
async def metadata(container: ContainerDep) -> JSONResponse:
    return JSONResponse(
        server_metadata(container.settings.auth_issuer),
        headers={"Cache-Control": "public, max-age=3600"},
    )

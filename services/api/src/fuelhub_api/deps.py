"""FastAPI dependencies and response helpers shared by the routers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fuelhub_common.tokens import AccessClaims

from fuelhub_api.auth import Authenticator
from fuelhub_api.service import JSON, Body, Connect, Reader
from fuelhub_api.service import Request as ReadRequest
from fuelhub_api.settings import Settings
from fuelhub_api.state import ReadModelState
from fuelhub_api.urls import public_base


@dataclass(frozen=True)
class Services:
    """Everything a request handler needs, built once in the app's lifespan."""

    settings: Settings
    reader: Reader
    authenticator: Authenticator
    state: ReadModelState
    connect: Connect


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def require_reader(request: Request, services: ServicesDep) -> AccessClaims:
    """The bearer token must be valid and carry ``stations:read``."""
    return await services.authenticator.authenticate(request.headers.get("authorization"))


ReaderClaims = Annotated[AccessClaims, Depends(require_reader)]


async def read_request(request: Request, services: ServicesDep) -> ReadRequest:
    settings = services.settings
    client = request.client
    base = public_base(
        scheme=request.url.scheme,
        host=request.headers.get("host"),
        fallback_host=f"{settings.http_host}:{settings.http_port}",
        peer=client.host if client else None,
        headers=request.headers,
        trusted=settings.api_trusted_proxies,
    )
    return ReadRequest(base=base, path=request.url.path)


ReadRequestDep = Annotated[ReadRequest, Depends(read_request)]


def etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def conditional(request: Request, body: Body) -> Response:
    """200 with the body and its ETag, or 304 when the client already has it."""
    headers = body.cache_headers()
    inm = request.headers.get("if-none-match")
    if inm is not None and etag_matches(inm, body.etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body.content, media_type=JSON, headers=headers)


def query_single(request: Request) -> dict[str, str]:
    """The last value of each query parameter (as the seed's framework reads them)."""
    return dict(request.query_params)


_DEG = r"-?[0-9]{1,3}(\.[0-9]{1,7})?"
# Patterns document the shape (so generated clients and fuzzers send well-formed values);
# ranges and cross-parameter rules are checked by the API and answered with 400.
BBOX_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"^{_DEG},{_DEG},{_DEG},{_DEG}$"}
POINT_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"^{_DEG},{_DEG}$"}
SYNC_SCHEMA: dict[str, Any] = {"type": "string", "pattern": r"^[0-9]{1,19}(\.[0-9]{1,19})?$"}


def openapi_params(*params: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": list(params)}


def query_param(
    name: str, schema: dict[str, Any], description: str, example: Any = None, **extra: Any
) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }
    if example is not None:
        param["example"] = example
    param.update(extra)
    return param

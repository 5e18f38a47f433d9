"""The cache-hit fast path for the hottest reads, in front of FastAPI's routing.

When a list request carries a token verified moments ago and its page is in the version cache,
the answer needs no query and no dependency resolution: this middleware sends the cached bytes
(or 304) itself. Everything else — a miss, an unknown token, a bad parameter — goes on to the
FastAPI route, which does the full work (and fills the cache). The responses are the same bytes
and headers either way (the integration tests run both paths).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from fuelhub_api.deps import cache_headers, etag_matches
from fuelhub_api.errors import ParamError
from fuelhub_api.params import parse_page, parse_station_filter
from fuelhub_api.service import Body
from fuelhub_api.service import Request as ReadRequest
from fuelhub_api.urls import public_base

V1 = "/api/v1/fuel-stations"
V2 = "/api/v2/fuel-stations"


@dataclass(frozen=True)
class _Route:
    """What the metrics middleware reads from ``scope["route"]``."""

    path: str


_ROUTES = {V1: _Route(V1), V2: _Route(V2)}


class CacheHitFastPath:
    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope["method"] != "GET" or path not in _ROUTES:
            await self.app(scope, receive, send)
            return
        body = self._hit(scope, path)
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTES[path]
        headers = dict(cache_headers(body))
        inm = self._header(scope, b"if-none-match")
        if inm is not None and etag_matches(inm, body.etag):
            status, content = 304, b""
        else:
            status, content = 200, body.content
            headers["content-type"] = "application/json"
            headers["content-length"] = str(len(content))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": content})

    @staticmethod
    def _header(scope: Scope, name: bytes) -> str | None:
        for key, value in scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    def _hit(self, scope: Scope, path: str) -> Body | None:
        services = getattr(self.fastapi_app.state, "services", None)
        if services is None:
            return None
        if services.authenticator.remembered(self._header(scope, b"authorization")) is None:
            return None
        wanted = {b"host", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-prefix"}
        headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in wanted}
        settings = services.settings
        client = scope.get("client")
        req = ReadRequest(
            base=public_base(
                scheme=scope.get("scheme", "http"),
                host=headers.get("host"),
                fallback_host=f"{settings.http_host}:{settings.http_port}",
                peer=client[0] if client else None,
                headers=headers,
                trusted=settings.api_trusted_proxies,
            ),
            path=path,
        )
        query = QueryParams(scope.get("query_string", b""))
        reader = services.reader
        try:
            if path == V1:
                page = parse_page(query.get("limit"), query.get("offset"))
                return reader.cached(reader.v1_key(page, req))  # type: ignore[no-any-return]
            f = parse_station_filter(dict(query), query.getlist("service"))
            return reader.cached(reader.v2_key(f, req))  # type: ignore[no-any-return]
        except ParamError:
            return None  # the route answers with the 400

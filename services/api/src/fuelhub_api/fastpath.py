"""The cache-hit fast path for the hottest reads, in front of FastAPI and its middlewares.

When a list request carries a token verified moments ago and its page is in the version cache,
the answer needs no query, no routing and no dependency resolution: :class:`CacheHitFastPath`
finds the cached body from the raw ASGI scope and the app sends it (or ``304``) itself.
Everything else — a miss, an unknown token, a bad parameter — goes on to the FastAPI route,
which does the full work (and fills the cache). The responses are the same bytes and headers
either way (the integration tests run both paths).

Per request it does only dictionary lookups: the query string, the public base URL and the
response headers are each computed once and remembered (bounded), because a busy client sends
the same few URLs through the same gateway over and over.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar, cast

from starlette.datastructures import QueryParams
from starlette.types import Scope

from fuelhub_api.deps import etag_matches
from fuelhub_api.errors import ParamError
from fuelhub_api.params import Page, StationFilter, parse_page, parse_station_filter
from fuelhub_api.service import Answer, Body
from fuelhub_api.service import Request as ReadRequest
from fuelhub_api.urls import public_base

V1 = "/api/v1/fuel-stations"
V2 = "/api/v2/fuel-stations"
PATHS = (V1, V2)
# The station detail: the route's template is the metrics label (never the raw path, whose ids
# would make a label per station).
DETAIL_ROUTE = V2 + "/{station_id}"
_DETAIL_PREFIX = V2 + "/"
_MAX_ID_DIGITS = 19  # bigint


def route_label(path: str) -> str:
    """The metrics label of a path the fast path answered."""
    return path if path in PATHS else DETAIL_ROUTE


def _detail_id(path: str) -> int | None:
    """The id of ``/api/v2/fuel-stations/<id>`` (ASCII digits only), else None."""
    if not path.startswith(_DETAIL_PREFIX):
        return None
    raw = path[len(_DETAIL_PREFIX) :]
    if not (0 < len(raw) <= _MAX_ID_DIGITS and raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# The request headers the fast path reads; everything else in the scope is ignored.
_AUTHORIZATION = b"authorization"
_IF_NONE_MATCH = b"if-none-match"
_BASE_HEADERS = (b"host", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-prefix")


class Memo(Generic[K, V]):
    """A bounded memo of a pure function: emptied when full (simple, and a hot set refills in
    a few requests). Only successful results are kept; an exception is never remembered."""

    def __init__(self, compute: Callable[[K], V], max_entries: int = 4096) -> None:
        self._compute = compute
        self._max = max_entries
        self._values: dict[K, V] = {}

    def __call__(self, key: K) -> V:
        try:
            return self._values[key]
        except KeyError:
            pass
        value = self._compute(key)
        if len(self._values) >= self._max:
            self._values.clear()
        self._values[key] = value
        return value


def _v1_page(query: bytes) -> Page:
    params = QueryParams(query)
    return parse_page(params.get("limit"), params.get("offset"))


def _v2_filter(query: bytes) -> StationFilter:
    params = QueryParams(query)
    return parse_station_filter(dict(params), params.getlist("service"))


class CacheHitFastPath:
    """Answers cache hits of the list endpoints from the raw ASGI scope, or says it cannot.

    The app's lifespan binds its services while they exist (until then every request goes on).
    """

    def __init__(self) -> None:
        self.services: Any = None
        self._v1 = Memo(_v1_page)
        self._v2 = Memo(_v2_filter)
        self._base: Memo[tuple[Any, ...], str] | None = None

    def _make_base(self, settings: Any) -> Memo[tuple[Any, ...], str]:
        fallback = f"{settings.http_host}:{settings.http_port}"
        trusted = settings.api_trusted_proxies

        def compute(key: tuple[Any, ...]) -> str:
            scheme, peer, host, proto, fwd_host, prefix = key
            forwarded = {
                name: value
                for name, value in (
                    ("x-forwarded-proto", proto),
                    ("x-forwarded-host", fwd_host),
                    ("x-forwarded-prefix", prefix),
                )
                if value is not None
            }
            return public_base(
                scheme=scheme,
                host=host,
                fallback_host=fallback,
                peer=peer,
                headers=forwarded,
                trusted=trusted,
            )

        return Memo(compute)

    def answer(self, scope: Scope) -> Answer | None:
        """The response for a cache hit of a list or detail endpoint; None: let the app handle
        it. A key is only ever cached by the route after it validated the request, so a hit
        needs no validation here."""
        path = scope["path"]
        if scope["method"] != "GET":
            return None
        station_id = None
        if path not in PATHS:
            station_id = _detail_id(path)
            if station_id is None:
                return None
        services = self.services
        if services is None:
            return None
        authorization = inm = None
        base_values: list[bytes | None] = [None, None, None, None]
        for key, value in scope["headers"]:
            if key == _AUTHORIZATION:
                authorization = value
            elif key == _IF_NONE_MATCH:
                inm = value
            elif key in _BASE_HEADERS:
                base_values[_BASE_HEADERS.index(key)] = value
        if authorization is None:
            return None
        if services.authenticator.remembered(authorization.decode("latin-1")) is None:
            return None
        if self._base is None:
            self._base = self._make_base(services.settings)
        client = scope.get("client")
        host, proto, fwd_host, prefix = base_values
        base = self._base(
            (
                scope.get("scheme", "http"),
                client[0] if client else None,
                None if host is None else host.decode("latin-1"),
                None if proto is None else proto.decode("latin-1"),
                None if fwd_host is None else fwd_host.decode("latin-1"),
                None if prefix is None else prefix.decode("latin-1"),
            )
        )
        req = ReadRequest(base=base, path=path)
        reader = services.reader
        query = scope.get("query_string", b"")
        try:
            if station_id is not None:
                key = reader.key("station", req.base, station_id)
            elif path == V1:
                key = reader.v1_key(self._v1(query), req)
            else:
                key = reader.v2_key(self._v2(query), req)
        except ParamError:
            return None  # the route answers with the 400
        body = reader.cached(key)
        if body is None:
            return None
        full, not_modified = cast(Body, body).answers
        if inm is not None and (
            inm == not_modified.etag or etag_matches(inm.decode("latin-1"), body.etag)
        ):
            return not_modified
        return full

"""Builds the FastAPI app: lifespan wiring (pool, watcher, verifier), errors, OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fuelhub_common.health import health_routes
from fuelhub_common.tokens import TokenVerifier
from prometheus_client import CollectorRegistry
from starlette.types import Receive, Scope, Send

from fuelhub_api import changes, db, repository, routes_v1, routes_v2
from fuelhub_api.auth import AccessVerifier, Authenticator, AuthError
from fuelhub_api.deps import Services
from fuelhub_api.errors import (
    CursorGoneError,
    DatabaseUnavailableError,
    NotFoundError,
    ParamError,
)
from fuelhub_api.fastpath import CacheHitFastPath, route_label
from fuelhub_api.metrics import LatencyByRoute, RequestMetrics, request_latency
from fuelhub_api.service import Reader
from fuelhub_api.settings import Settings
from fuelhub_api.state import PageCache, ReadModelState, watch

DESCRIPTION = """\
Fuel stations, their prices and services, for client apps.

**Authentication**: every endpoint needs `Authorization: Bearer <access token>` with scope
`stations:read`. Get one from `POST /api/v1/token/` (username and password; refresh with
`POST /api/v1/token/refresh/`) or, for services, from `POST /oauth/token` (OAuth2 client
credentials), both on the same base URL (see `/api/auth/docs` on the gateway).

**v1** is the original server's contract, frozen. **v2** adds search (fuel, service, box,
distance), price sorting, delta sync (`since=`), price history, freshness (`data_as_of`) and
push (`/api/v2/changes`, Server-Sent Events).

**Caching**: every read carries an `ETag`; send it back in `If-None-Match` to get `304 Not
Modified` without a body when nothing changed.
"""


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, settings: Settings) -> None:
    retry = {"Retry-After": str(settings.api_retry_after_seconds)}

    @app.exception_handler(ParamError)
    async def bad_param(_: Request, exc: ParamError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(AuthError)
    async def refused(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": exc.challenge} if exc.challenge else dict(retry)
        return _error(exc.status, exc.message, headers)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(CursorGoneError)
    async def gone(_: Request, exc: CursorGoneError) -> JSONResponse:
        return _error(410, str(exc))

    @app.exception_handler(DatabaseUnavailableError)
    async def unavailable(_: Request, exc: DatabaseUnavailableError) -> JSONResponse:
        return _error(503, "the data store is unavailable for a moment; retry later", retry)


def install_openapi(app: FastAPI) -> None:
    """The bearer scheme on every data operation, and the docs under ``/api``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title="fuelhub API",
            version="2.0.0",
            description=DESCRIPTION,
            routes=app.routes,
            servers=[{"url": "/"}],
        )
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["jwtAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from POST /api/v1/token/ or POST /oauth/token.",
        }
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/api/"):
                for operation in operations.values():
                    operation["security"] = [{"jwtAuth": []}]
        schema["externalDocs"] = {
            "description": "Token endpoints (auth service, same base URL)",
            "url": "/api/v1/token/",
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class ApiApp(FastAPI):
    """FastAPI with the cache-hit fast path in front of everything (middlewares included):
    a hit is sent from the raw scope; anything else takes the full stack."""

    fast_path: CacheHitFastPath | None = None
    fast_latency: LatencyByRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.fast_path is not None:
            start = time.perf_counter()
            answer = self.fast_path.answer(scope)
            if answer is not None:
                status = answer.status
                await send(
                    {"type": "http.response.start", "status": status, "headers": answer.headers}
                )
                await send({"type": "http.response.body", "body": answer.body})
                if self.fast_latency is not None:
                    self.fast_latency.observe_get(
                        route_label(scope["path"]), status, time.perf_counter() - start
                    )
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings, *, verifier: AccessVerifier | None = None, fast_path: bool = True
) -> FastAPI:
    """The API app. ``verifier`` replaces the JWKS-backed verifier (tests serve their own);
    ``fast_path=False`` sends every request through the FastAPI routes."""
    registry = CollectorRegistry()

    @contextlib.asynccontextmanager
    async def lifespan(app: ApiApp) -> AsyncIterator[None]:
        pool = db.make_pool(settings)
        await pool.open(wait=False)
        state = ReadModelState()
        connect = db.pool_connector(pool)
        own_verifier = None
        if verifier is None:
            own_verifier = TokenVerifier(
                jwks_url=settings.auth_jwks_url,
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
            )
        reader = Reader(state=state, cache=PageCache(settings.api_cache_entries), connect=connect)
        app.state.services = Services(
            settings=settings,
            reader=reader,
            authenticator=Authenticator(verifier or own_verifier),  # type: ignore[arg-type]
            state=state,
            connect=connect,
        )
        if app.fast_path is not None:
            app.fast_path.services = app.state.services
        watcher = asyncio.create_task(
            watch(
                state,
                lambda: db.direct_connection(settings),
                refresh_seconds=settings.api_freshness_refresh_seconds,
            )
        )
        try:
            yield
        finally:
            if app.fast_path is not None:
                app.fast_path.services = None
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if own_verifier is not None:
                await own_verifier.close()
            await pool.close()

    app = ApiApp(
        title="fuelhub API",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )

    async def database_ready() -> bool:
        async with app.state.services.connect() as conn:
            await repository.ping(conn)
        return True

    app.include_router(health_routes({"database": database_ready}, registry))
    app.include_router(routes_v1.router)
    app.include_router(routes_v2.router)
    app.include_router(changes.router)
    install_error_handlers(app, settings)
    install_openapi(app)
    latency = request_latency(registry)
    if fast_path:
        app.fast_path = CacheHitFastPath()
        app.fast_latency = LatencyByRoute(latency)
    app.add_middleware(RequestMetrics, latency=latency)
    return app

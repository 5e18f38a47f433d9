"""Builds the auth app (``create_app``); ``fuelhub-auth serve`` runs it (see :mod:`.cli`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fuelhub_common.health import health_routes
from fuelhub_common.settings import load_settings
from sqlalchemy.exc import DBAPIError, OperationalError

from fuelhub_auth import migrate
from fuelhub_auth.bodies import BodySizeLimit
from fuelhub_auth.container import Container, build_container
from fuelhub_auth.metrics import AuthMetrics
from fuelhub_auth.routes_accounts import router as accounts_router
from fuelhub_auth.routes_oauth import router as oauth_router
from fuelhub_auth.routes_seed import router as seed_router
from fuelhub_auth.settings import AuthSettings

log = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 3600

DESCRIPTION = """
Issues the tokens every fuelhub client needs before it reads data.

* **Existing clients** of the original server keep logging in with
  `POST /api/v1/token/` (username and password; JSON, form or multipart) and refreshing with
  `POST /api/v1/token/refresh/`, unchanged. This password grant is kept *only* for them:
  OAuth 2.0 security best practice (RFC 9700) discourages it.
* **New clients and services should use the OAuth 2.0 client credentials grant** at
  `POST /oauth/token` (RFC 6749 §4.4), with a client id and secret from an administrator.

Access tokens are JWTs (`typ: at+jwt`, EdDSA/Ed25519, `kid` in the header) valid for 15
minutes by default; send them as `Authorization: Bearer <token>`. Public keys:
`/.well-known/jwks.json`; server metadata: `/.well-known/oauth-authorization-server`.
"""


async def _prune_forever(container: Container) -> None:
    while True:
        await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
        try:
            removed = await container.tokens.prune()
            log.info("pruned refresh families", extra={"removed": removed})
        except Exception:  # the next round retries; a failed prune must not kill the app
            log.exception("pruning refresh families failed")


def create_app(
    settings: AuthSettings | None = None, *, clock: Callable[[], float] = time.time
) -> FastAPI:
    """The auth ASGI app. Settings come from the environment unless given."""
    settings = settings or load_settings(AuthSettings)
    metrics = AuthMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Keys first: a prod start without keys must fail before touching the database.
        container = build_container(settings, metrics=metrics, clock=clock)
        if settings.auth_migrate_on_start:
            await anyio.to_thread.run_sync(migrate.upgrade, settings.sqlalchemy_url)
        app.state.container = container
        pruner = asyncio.create_task(_prune_forever(container))
        log.info(
            "auth ready",
            extra={"issuer": settings.auth_issuer, "kid": container.keys.ring().signing_key.kid},
        )
        try:
            yield
        finally:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
            await container.db.dispose()

    app = FastAPI(
        title="fuelhub auth",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.auth_max_body_bytes)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("database error", extra={"error": repr(exc), "path": request.url.path})
        return JSONResponse(
            {"detail": "Service temporarily unavailable; try again shortly."},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    async def database_ready() -> bool:
        container: Container = app.state.container
        return await container.db.ping()

    app.include_router(health_routes({"database": database_ready}, registry=metrics.registry))
    app.include_router(seed_router)
    app.include_router(oauth_router)
    app.include_router(accounts_router)
    return app

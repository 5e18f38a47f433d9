"""Builds the admin ASGI app: sqladmin under ``/admin``, icons under ``/media``, the alias map
for the ingestors under ``/internal``, and the health routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fuelhub_common.health import health_routes
from fuelhub_common.tokens import TokenVerifier
from sqladmin import Admin
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from fuelhub_store.admin.audit import install_session_audit
from fuelhub_store.admin.context import AdminContext
from fuelhub_store.admin.login import AdminAuthBackend, AuthClient
from fuelhub_store.admin.media import MediaStore, media_routes
from fuelhub_store.admin.security import AdminGuard
from fuelhub_store.admin.service import fuel_aliases
from fuelhub_store.admin.settings import AdminSettings
from fuelhub_store.admin.views_accounts import AccountsView
from fuelhub_store.admin.views_catalog import FuelAliasAdmin, FuelTypeAdmin, ServiceAdmin
from fuelhub_store.admin.views_data import (
    AuditLogAdmin,
    CurrentPriceAdmin,
    PriceHistoryAdmin,
    StationAdmin,
)
from fuelhub_store.admin.views_status import StatusView
from fuelhub_store.db import make_pool, migrate, sqlalchemy_url

TEMPLATES = Path(__file__).parent / "templates"


class AdminSession(Session):
    """The ORM session sqladmin writes with; alias changes are audited on flush."""


install_session_audit(AdminSession)


def create_app(
    settings: AdminSettings,
    *,
    auth_http: httpx.AsyncClient | None = None,
    verifier: TokenVerifier | None = None,
) -> FastAPI:
    """The admin app; connections open in its lifespan. Tests may pass their own client for
    auth (its base URL is auth's) and verifier; those are then theirs to close."""
    pool = make_pool(settings.database_url, size=settings.admin_db_pool_size, name="fuelhub-admin")
    engine = create_async_engine(
        sqlalchemy_url(settings.database_url),
        pool_size=settings.admin_db_pool_size,
        max_overflow=0,
        pool_pre_ping=True,
    )
    session_maker = async_sessionmaker(
        engine, class_=AsyncSession, sync_session_class=AdminSession, expire_on_commit=False
    )
    owned = auth_http is None
    http = auth_http or httpx.AsyncClient(base_url=settings.auth_url, timeout=httpx.Timeout(10.0))
    tokens = verifier or TokenVerifier(
        jwks_url=settings.auth_jwks_url,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    media = MediaStore(settings.admin_media_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.admin_migrate_on_start:
            await anyio.to_thread.run_sync(migrate, settings.database_url)
        await pool.open()
        try:
            yield
        finally:
            await pool.close()
            await engine.dispose()
            if owned:
                await http.aclose()
            if verifier is None:
                await tokens.close()

    app = FastAPI(
        title="fuelhub admin", openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan
    )
    backend = AdminAuthBackend(
        secret_key=settings.session_secret(),
        verifier=tokens,
        auth=AuthClient(http),
        max_age=settings.admin_session_max_age,
        secure=settings.cookie_secure,
    )
    admin = Admin(
        app,
        session_maker=session_maker,
        base_url="/admin",
        title="fuelhub admin",
        templates_dir=str(TEMPLATES),
        authentication_backend=backend,
    )
    backend.templates = admin.templates
    admin.admin.state.fuelhub = AdminContext(
        pool=pool, media=media, auth_http=http, broker_url=settings.broker_url
    )
    for view in (
        StatusView,
        FuelTypeAdmin,
        ServiceAdmin,
        FuelAliasAdmin,
        StationAdmin,
        CurrentPriceAdmin,
        PriceHistoryAdmin,
        AccountsView,
        AuditLogAdmin,
    ):
        admin.add_view(view)
    app.router.routes.extend(media_routes(media))

    @app.get("/internal/fuel-aliases", include_in_schema=False)
    async def aliases() -> JSONResponse:
        """The admin's alias map for the ingestors' ``FUEL_ALIASES_URL`` (not routed by the
        gateway: internal network only)."""
        async with pool.connection() as conn:
            return JSONResponse(await fuel_aliases(conn), headers={"Cache-Control": "no-store"})

    async def database_ready() -> bool:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
        return True

    app.include_router(health_routes({"database": database_ready}))
    app.add_middleware(AdminGuard, max_body_bytes=settings.admin_max_body_bytes)
    return app

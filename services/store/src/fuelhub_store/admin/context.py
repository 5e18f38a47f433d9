"""What the admin's pages need at run time, kept on the admin sub-app's state."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from fuelhub_store.admin.media import MediaStore


@dataclass(frozen=True, slots=True)
class AdminContext:
    pool: AsyncConnectionPool
    media: MediaStore
    auth_http: httpx.AsyncClient  # base URL = AUTH_URL
    broker_url: str


def admin_context(request: Request) -> AdminContext:
    ctx: AdminContext = request.app.state.fuelhub
    return ctx

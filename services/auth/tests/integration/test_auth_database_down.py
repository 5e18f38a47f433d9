"""With the database unreachable: 503 with Retry-After (never a 500), and not ready."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fuelhub_auth.main import create_app
from fuelhub_auth.settings import AuthSettings

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns


async def test_database_unreachable(make_auth_settings: Callable[..., AuthSettings]) -> None:
    settings = make_auth_settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/fuelhub",
        auth_migrate_on_start=False,
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 503
            login = await client.post(
                "/api/v1/token/", json={"username": "demo", "password": "demo12345"}
            )
            assert login.status_code == 503
            assert login.headers["retry-after"] == "5"
            assert "detail" in login.json()
            token = await client.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=("svc", "secret")
            )
            assert token.status_code == 503
            # Key material does not need the database: JWKS and metadata still answer.
            assert (await client.get("/.well-known/jwks.json")).status_code == 200

"""Test support for auth (fixtures re-exported by services/auth/tests/conftest.py): a fresh
database per test and the app in-process. Not used at run time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fuelhub_common.tokens import TokenVerifier

from fuelhub_auth import accounts
from fuelhub_auth.container import Container
from fuelhub_auth.main import create_app
from fuelhub_auth.settings import AuthSettings

ISSUER = "http://issuer.test"


class Clock:
    """Wall clock the tests can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class AuthHarness:
    app: FastAPI
    client: httpx.AsyncClient
    settings: AuthSettings
    clock: Clock

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    async def add_user(
        self,
        username: str,
        password: str,
        scopes: tuple[str, ...] = ("stations:read",),
        enabled: bool = True,
    ) -> None:
        async with self.container.db.transaction() as session:
            await accounts.create_user(
                session,
                self.container.hasher,
                username=username,
                password=password,
                scopes=scopes,
                enabled=enabled,
            )

    async def add_client(self, client_id: str, scopes: tuple[str, ...] = ("stations:read",)) -> str:
        async with self.container.db.transaction() as session:
            _, secret = await accounts.create_client(
                session, self.container.hasher, client_id=client_id, name=client_id, scopes=scopes
            )
        return secret

    async def login(self, username: str, password: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(
            "/api/v1/token/", json={"username": username, "password": password}, **kwargs
        )

    def verifier(self) -> TokenVerifier:
        """A TokenVerifier (as the API uses it) reading this app's JWKS in-process."""
        return TokenVerifier(
            jwks_url="http://auth.test/.well-known/jwks.json",
            issuer=self.settings.auth_issuer,
            audience=self.settings.auth_audience,
            http_client=self.client,
        )

    async def admin_token(self) -> str:
        await self.add_user("root", "root-password", ("admin", "stations:read"))
        response = await self.login("root", "root-password")
        assert response.status_code == 200, response.text
        return str(response.json()["access"])


def make_settings(database_url: str, keys_dir: Path, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auth_keys_dir": keys_dir,
        "auth_issuer": ISSUER,
        "auth_profile": "dev",
        # Cheap argon2 for speed; the defaults (OWASP's) are asserted in a unit test.
        "auth_argon2_time_cost": 1,
        "auth_argon2_memory_kib": 1024,
        "auth_argon2_parallelism": 1,
        "auth_signing_keys": None,
        "auth_dev_admin_password": None,
    }
    values.update(overrides)
    return AuthSettings(**values)


@pytest.fixture
def make_auth_settings(
    tmp_path: Path, postgres_database_factory: Callable[[], str]
) -> Callable[..., AuthSettings]:
    database_url = postgres_database_factory()

    def make(**overrides: Any) -> AuthSettings:
        url = overrides.pop("database_url", database_url)
        return make_settings(url, tmp_path / "keys", **overrides)

    return make


@pytest.fixture
def auth_overrides() -> dict[str, Any]:
    """Override in a test module to change the app's settings."""
    return {}


@pytest.fixture
async def auth(
    make_auth_settings: Callable[..., AuthSettings], auth_overrides: dict[str, Any]
) -> AsyncIterator[AuthHarness]:
    settings = make_auth_settings(**auth_overrides)
    clock = Clock()
    app = create_app(settings, clock=clock)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
            yield AuthHarness(app=app, client=client, settings=settings, clock=clock)

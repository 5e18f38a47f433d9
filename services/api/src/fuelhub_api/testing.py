"""Helpers for the API's tests (not used in production): tokens signed by a test key, the JWKS
served in-process, an app handle, and read-model data applied through the store's own handler
(imported lazily: the store is a test-time dependency of the API, never a runtime one)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OKPKey

from fuelhub_api.settings import Settings

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "fuelhub-api"
JWKS_URL = "http://auth.test/.well-known/jwks.json"


@dataclass
class Signer:
    """Signs access tokens the way the auth service does (Ed25519, ``typ`` at+jwt)."""

    key: OKPKey

    @classmethod
    def generate(cls) -> Signer:
        return cls(OKPKey.generate_key("Ed25519", parameters={"kid": f"test-{uuid.uuid4().hex}"}))

    def token(
        self,
        *,
        scope: str = "stations:read",
        ttl: float = 300,
        audience: str = AUDIENCE,
        typ: str = "at+jwt",
        subject: str = "user-1",
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": audience,
            "sub": subject,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + int(ttl),
            "scope": scope,
        }
        header = {"alg": "EdDSA", "typ": typ, "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=["EdDSA"])

    def jwks_transport(self) -> httpx.MockTransport:
        """Serves this key's public JWKS at ``JWKS_URL``."""
        document = {"keys": [self.key.as_dict(private=False)]}

        def handler(request: httpx.Request) -> httpx.Response:
            if str(request.url) == JWKS_URL:
                return httpx.Response(200, json=document)
            return httpx.Response(404)

        return httpx.MockTransport(handler)


def api_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "auth_jwks_url": JWKS_URL,
        "api_freshness_refresh_seconds": 0.2,
        "api_retry_after_seconds": 2,
        "api_sse_heartbeat_seconds": 0.5,
        **overrides,
    }
    return Settings(**values)


async def current_version(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT coalesce(max(seq), 0) FROM store.outbox")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class Api:
    """The app under test, an ASGI client on it and a valid token."""

    app: FastAPI
    client: httpx.AsyncClient
    token: str
    database_url: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(), **kwargs.pop("headers", {})}
        return await self.client.get(url, headers=headers, **kwargs)

    async def synced(self) -> int:
        """Wait until the app has seen the database's current read-model version."""
        version = await current_version(self.database_url)
        await self.app.state.services.state.wait_for_version(version)
        return version


async def deliver(database_url: str, parts: Sequence[Any]) -> None:
    """Apply change-set parts with the store's own handler, as its consumer would."""
    from fuelhub_common.guard import GuardPolicy
    from fuelhub_store.service import handle

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        for part in parts:
            await handle(conn, part, part.model_dump_json(), GuardPolicy())


T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def t(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# Moscow-ish stations, one far away: id → (lat, lon, number, services)
STATIONS: dict[int, tuple[str, str, int, tuple[str, ...]]] = {
    1: ("55.750000", "37.610000", 10, ("Мойка", "Кафе")),
    2: ("55.760000", "37.620000", 5, ("Мойка",)),
    3: ("55.900000", "37.900000", 30, ()),
    4: ("59.930000", "30.310000", 1, ("Кафе",)),
    5: ("55.751000", "37.611000", 20, ("Мойка", "Замена шин")),
}
PRICES: dict[int, list[tuple[str, str, str]]] = {
    1: [("АИ-95", "54.90", "RUB"), ("ДТ", "61.5", "RUB")],
    2: [("АИ-95", "53.10", "RUB"), ("АИ-98", "70", "RUB")],
    3: [("ДТ", "60.00", "RUB")],
    4: [("АИ-95", "55.5", "RUB"), ("АИ-92", "1.2", "KZT")],
    5: [("АИ-95", "0.65", "EUR")],
}


def catalog_parts(at: datetime = T0, stations: dict[int, Any] | None = None) -> list[Any]:
    from fuelhub_store.testing import change_set, station

    changes = [
        station(i, at, latitude=lat, longitude=lon, number=n, services=svc)
        for i, (lat, lon, n, svc) in (stations or STATIONS).items()
    ]
    return change_set(changes, at, snapshot=stations is None)


def price_parts(at: datetime = T0, prices: dict[int, Any] | None = None) -> list[Any]:
    from fuelhub_store.testing import change_set, price_list

    return change_set(
        [price_list(i, at, p) for i, p in (prices or PRICES).items()],
        at,
        prices=True,
        snapshot=prices is None,
    )


async def load_sample(api: Api) -> None:
    await deliver(api.database_url, catalog_parts())
    await deliver(api.database_url, price_parts())
    await api.synced()


@asynccontextmanager
async def serving(config: uvicorn.Config) -> AsyncIterator[int]:
    """Serve ``config`` (``port=0``: a free loopback port) in this loop; yields the port."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server._serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    server.force_exit = True
    await task

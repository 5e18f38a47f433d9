"""Health, readiness, metrics, and 503 + Retry-After (never 500) while the database is away,
recovering by itself when it returns (through a TCP proxy the test cuts and restores)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fuelhub_api.app import create_app
from fuelhub_api.testing import (
    AUDIENCE,
    ISSUER,
    JWKS_URL,
    Api,
    Signer,
    api_settings,
    load_sample,
)
from fuelhub_common.testing import FaultProxy
from fuelhub_common.tokens import TokenVerifier

pytestmark = pytest.mark.integration


async def test_health_ready_and_metrics(api: Api) -> None:
    await load_sample(api)
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True}
    await api.get("/api/v1/fuel-stations?limit=1")
    await api.get("/api/v1/fuel-stations?limit=-1")
    metrics = (await api.client.get("/metrics")).text
    assert (
        'fuelhub_api_request_seconds_bucket{le="0.005",method="GET",route="/api/v1/fuel-stations",status="200"}'
        in metrics
    )
    assert 'route="/api/v1/fuel-stations",status="400"' in metrics


@pytest.fixture
async def proxied(
    api_db_url: str, signer: Signer, token: str
) -> AsyncIterator[tuple[Api, FaultProxy]]:
    proxy = FaultProxy("127.0.0.1", 5432).start()
    url = api_db_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    async with httpx.AsyncClient(transport=signer.jwks_transport()) as jwks_http:
        verifier = TokenVerifier(
            jwks_url=JWKS_URL, issuer=ISSUER, audience=AUDIENCE, http_client=jwks_http
        )
        settings = api_settings(url, api_cache_entries=0)
        app = create_app(settings, verifier=verifier)
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield Api(app, client, token, api_db_url), proxy
    proxy.close()


async def test_database_away_gives_503_with_retry_after_then_recovers(
    proxied: tuple[Api, FaultProxy],
) -> None:
    api, proxy = proxied
    await load_sample(api)
    assert (await api.get("/api/v1/fuel-stations?limit=1")).status_code == 200
    proxy.cut()
    for url in (
        "/api/v1/fuel-stations?limit=1",
        "/api/v2/fuel-stations?limit=7",
        "/api/v2/fuel-stations/1",
        "/api/v2/fuel-types",
    ):
        response = await api.get(url)
        assert response.status_code == 503, (url, response.text)
        assert response.headers["retry-after"] == "2"
        assert "unavailable" in response.json()["detail"]
    assert (await api.client.get("/readyz")).status_code == 503
    proxy.start()  # same port: the database is back
    for _ in range(100):
        response = await api.get("/api/v1/fuel-stations?limit=1")
        if response.status_code == 200:
            break
        assert response.status_code == 503
        await asyncio.sleep(0.1)
    assert response.status_code == 200
    assert (await api.client.get("/readyz")).status_code == 200

"""Fixtures of the API's tests: a store-migrated database per test and the app on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fuelhub_api.app import create_app
from fuelhub_api.testing import AUDIENCE, ISSUER, JWKS_URL, Api, Signer, api_settings, serving
from fuelhub_common.tokens import TokenVerifier


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture(scope="session")
def token(signer: Signer) -> str:
    return signer.token(ttl=3600)


@pytest.fixture
def api_db_url(postgres_database_factory: Callable[[], str]) -> str:
    from fuelhub_store.db import migrate

    url = postgres_database_factory()
    migrate(url)
    return url


@pytest.fixture
async def api(api_db_url: str, signer: Signer, token: str) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(transport=signer.jwks_transport()) as jwks_http:
        verifier = TokenVerifier(
            jwks_url=JWKS_URL, issuer=ISSUER, audience=AUDIENCE, http_client=jwks_http
        )
        app = create_app(api_settings(api_db_url), verifier=verifier)
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                yield Api(app, client, token, api_db_url)


@pytest.fixture
async def served(api: Api) -> AsyncIterator[str]:
    """The same app served over real HTTP on a free loopback port (for streaming)."""
    import uvicorn

    config = uvicorn.Config(api.app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    async with serving(config) as port:
        yield f"http://127.0.0.1:{port}"

"""The admin session over time: an expired access token is refreshed through auth; once auth
refuses (user disabled), the session ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fuelhub_auth import accounts
from fuelhub_auth.testing import AuthHarness, auth, auth_overrides, make_auth_settings
from fuelhub_common.tokens import TokenVerifier
from fuelhub_store.admin.settings import AdminSettings
from fuelhub_store.admin.testing import SESSION_SECRET, in_process_admin, sign_in

__all__ = ["auth", "auth_overrides", "make_auth_settings"]  # fixtures used below

pytestmark = pytest.mark.integration


@pytest.fixture
async def admin(
    store_db_url: str, auth: AuthHarness, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = AdminSettings(
        database_url=store_db_url,
        auth_issuer=auth.settings.auth_issuer,
        admin_session_secret=SESSION_SECRET,
        admin_media_dir=tmp_path,
    )
    # The admin's verifier reads the same (movable) clock as auth.
    verifier = TokenVerifier(
        jwks_url="http://auth.test/.well-known/jwks.json",
        issuer=auth.settings.auth_issuer,
        audience=auth.settings.auth_audience,
        http_client=auth.client,
        wall_clock=auth.clock,
    )
    await auth.add_user("boss", "boss-password", ("admin",))
    async with in_process_admin(settings, auth.client, verifier) as client:
        yield client


async def test_expired_access_token_is_refreshed_then_session_ends_when_auth_refuses(
    admin: httpx.AsyncClient, auth: AuthHarness
) -> None:
    assert (await sign_in(admin, "boss", "boss-password")).status_code == 302
    before = admin.cookies.get("fuelhub_admin", path="/admin")
    assert (await admin.get("/admin/status")).status_code == 200

    auth.clock.offset += auth.settings.auth_access_ttl_seconds + 120  # access token expired
    response = await admin.get("/admin/status")
    assert response.status_code == 200  # refreshed behind the scenes
    assert admin.cookies.get("fuelhub_admin", path="/admin") != before  # new tokens stored

    async with auth.container.db.transaction() as session:
        await accounts.set_user_enabled(session, "boss", False)
    auth.clock.offset += auth.settings.auth_access_ttl_seconds + 120
    response = await admin.get("/admin/status")
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")
    # The session was cleared: later requests do not try again.
    assert (await admin.get("/admin/")).status_code == 302

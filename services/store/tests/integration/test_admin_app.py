"""The admin app in-process against real Postgres and an in-process auth: access control,
CSRF, aliases (audited, served to the ingestors), display names, approvals, accounts, limits."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fuelhub_auth.testing import AuthHarness, auth, auth_overrides, make_auth_settings
from fuelhub_common.ingestion.aliases import AliasProvider
from fuelhub_store.admin.settings import AdminSettings
from fuelhub_store.admin.testing import (
    ADMIN_BASE as BASE,
)
from fuelhub_store.admin.testing import (
    ORIGIN,
    SESSION_SECRET,
    form_token,
    in_process_admin,
    png,
    seed,
    sign_in,
)
from fuelhub_store.db import make_pool
from psycopg_pool import AsyncConnectionPool

__all__ = ["auth", "auth_overrides", "make_auth_settings"]  # fixtures used below

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(store_db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    pool = make_pool(store_db_url, size=2)
    await pool.open()
    async with pool.connection() as conn:
        await seed(conn)
    yield pool
    await pool.close()


@pytest.fixture
async def admin(
    store_db_url: str, auth: AuthHarness, tmp_path: Path, pool: AsyncConnectionPool
) -> AsyncIterator[httpx.AsyncClient]:
    settings = AdminSettings(
        database_url=store_db_url,
        auth_issuer=auth.settings.auth_issuer,
        admin_session_secret=SESSION_SECRET,
        admin_media_dir=tmp_path / "media",
    )
    await auth.add_user("boss", "boss-password", ("admin", "stations:read"))
    await auth.add_user("reader", "reader-password", ("stations:read",))
    async with in_process_admin(settings, auth.client, auth.verifier()) as client:
        yield client


csrf = form_token


async def rows(pool: AsyncConnectionPool, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params or None)
        return await cur.fetchall()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/fuel-type/list",
        "/admin/fuel-type/presentation/1",
        "/admin/fuel-alias/create",
        "/admin/status",
        "/admin/accounts",
        "/admin/audit-entry/list",
        "/admin/station/list",
    ],
)
async def test_every_admin_page_sends_strangers_to_the_login(
    admin: httpx.AsyncClient, path: str
) -> None:
    response = await admin.get(path)
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")


async def test_non_admin_is_refused_with_a_message_and_gets_no_session(
    admin: httpx.AsyncClient,
) -> None:
    response = await sign_in(admin, "reader", "reader-password")
    assert response.status_code == 403
    assert "not an administrator" in response.text
    assert (await admin.get("/admin/status")).status_code == 302


async def test_wrong_password_is_refused(admin: httpx.AsyncClient) -> None:
    response = await sign_in(admin, "boss", "wrong-password")
    assert response.status_code == 400
    assert "Wrong username or password" in response.text


async def test_blank_and_oversized_fields_are_refused_without_calling_auth(
    admin: httpx.AsyncClient,
) -> None:
    assert (await sign_in(admin, "", "x")).status_code == 400
    response = await sign_in(admin, "boss", "x" * 5000)
    assert response.status_code == 400


async def test_admin_session_cookie_is_httponly_strict_and_scoped(
    admin: httpx.AsyncClient,
) -> None:
    response = await sign_in(admin, "boss", "boss-password")
    assert response.status_code == 302
    cookie = response.headers["set-cookie"].lower()
    assert "fuelhub_admin=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/admin" in cookie
    page = await admin.get("/admin/status")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"


async def test_unsafe_requests_without_our_origin_are_refused(admin: httpx.AsyncClient) -> None:
    await sign_in(admin, "boss", "boss-password")
    data = {"alias": "AI-92 EXTRA", "canonical": "АИ-92"}
    for headers in ({}, {"Origin": "http://evil.test"}, {"Referer": "http://evil.test/x"}):
        response = await admin.post("/admin/fuel-alias/create", data=data, headers=headers)
        assert response.status_code == 403, headers
        assert "CSRF" in response.text
    # Our own forms also need the session's token.
    response = await admin.post(
        "/admin/fuel-type/presentation/1", data={"display_name": "x"}, headers=ORIGIN
    )
    assert response.status_code == 403
    assert "form expired" in response.text
    assert await rows_count(admin) == 0


async def rows_count(admin: httpx.AsyncClient) -> int:
    response = await admin.get("/internal/fuel-aliases")
    return len(response.json())


async def test_aliases_are_audited_and_served_to_the_ingestors(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    await sign_in(admin, "boss", "boss-password")
    response = await admin.post(
        "/admin/fuel-alias/create",
        data={"alias": " regular  92 ", "canonical": "аи-92"},
        headers=ORIGIN,
    )
    assert response.status_code == 302, response.text
    served = await admin.get("/internal/fuel-aliases")
    assert served.json() == {"REGULAR-92": "АИ-92"}
    assert served.headers["cache-control"] == "no-store"

    # The ingestors' own alias loader understands the answer.
    provider = AliasProvider(url=f"{BASE}/internal/fuel-aliases")
    normalise = await provider.normalizer(admin)
    assert normalise("Regular 92") == "АИ-92"
    assert normalise("AI-95") == "АИ-95"  # built-in defaults still apply

    (alias_id,) = (await rows(pool, "SELECT id FROM store.fuel_aliases"))[0]
    response = await admin.post(
        f"/admin/fuel-alias/edit/{alias_id}",
        data={"alias": "REGULAR-92", "canonical": "АИ-95"},
        headers=ORIGIN,
    )
    assert response.status_code == 302, response.text
    response = await admin.delete(f"/admin/fuel-alias/delete?pks={alias_id}", headers=ORIGIN)
    assert response.status_code == 200, response.text
    log = await rows(
        pool,
        "SELECT actor, action, target_id, before, after FROM store.admin_audit_log ORDER BY id",
    )
    assert log == [
        ("boss", "alias.create", "REGULAR-92", None, {"alias": "REGULAR-92", "canonical": "АИ-92"}),
        (
            "boss",
            "alias.update",
            "REGULAR-92",
            {"alias": "REGULAR-92", "canonical": "АИ-92"},
            {"alias": "REGULAR-92", "canonical": "АИ-95"},
        ),
        ("boss", "alias.delete", "REGULAR-92", {"alias": "REGULAR-92", "canonical": "АИ-95"}, None),
    ]
    assert (await admin.get("/internal/fuel-aliases")).json() == {}


async def test_an_alias_to_itself_is_refused_with_a_message(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    await sign_in(admin, "boss", "boss-password")
    response = await admin.post(
        "/admin/fuel-alias/create", data={"alias": "аи 95", "canonical": "АИ-95"}, headers=ORIGIN
    )
    assert response.status_code == 400
    assert "same after normalisation" in response.text
    assert await rows(pool, "SELECT * FROM store.fuel_aliases") == []


async def test_a_duplicate_alias_is_refused_with_a_message(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    await sign_in(admin, "boss", "boss-password")
    first = await admin.post(
        "/admin/fuel-alias/create", data={"alias": "AI-92 E", "canonical": "АИ-92"}, headers=ORIGIN
    )
    assert first.status_code == 302
    again = await admin.post(
        "/admin/fuel-alias/create", data={"alias": "ai 92 e", "canonical": "ДТ"}, headers=ORIGIN
    )
    assert again.status_code == 400
    assert "already exists" in again.text
    assert await rows(pool, "SELECT alias, canonical FROM store.fuel_aliases") == [
        ("AI-92 E", "АИ-92")
    ]


async def test_display_name_rewrites_documents_and_is_audited(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    await sign_in(admin, "boss", "boss-password")
    ((fuel_id,),) = await rows(pool, "SELECT id FROM store.fuel_types WHERE name = 'ДТ'")
    page = f"/admin/fuel-type/presentation/{fuel_id}"
    token = await csrf(admin, page)
    response = await admin.post(
        page, data={"csrf_token": token, "display_name": "  Дизель  Евро-5 "}, headers=ORIGIN
    )
    assert response.status_code == 200
    assert "1 station document(s) rewritten" in response.text
    ((doc,),) = await rows(pool, "SELECT doc_v1 FROM store.station_docs WHERE station_id = 1")
    names = [f["fuel_type"]["name"] for f in json.loads(doc)["fuels"]]
    assert "Дизель Евро-5" in names
    log = await rows(pool, "SELECT action, before, after FROM store.admin_audit_log")
    assert log == [
        (
            "display_name.set",
            {"display_name": None, "icon_path": None},
            {"display_name": "Дизель Евро-5", "icon_path": None},
        )
    ]


async def test_service_icon_upload_reaches_the_documents(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    await sign_in(admin, "boss", "boss-password")
    ((service_id,),) = await rows(pool, "SELECT id FROM store.services WHERE name = 'Мойка'")
    page = f"/admin/service/presentation/{service_id}"
    token = await csrf(admin, page)
    response = await admin.post(
        page,
        data={"csrf_token": token},
        files={"icon": ("wash.png", png(40, 40), "image/png")},
        headers=ORIGIN,
    )
    assert response.status_code == 200, response.text
    ((icon_path,),) = await rows(
        pool, "SELECT icon_path FROM store.services WHERE id = %s", service_id
    )
    assert re.fullmatch(r"/media/icons/[0-9a-f]{64}-128\.png", icon_path)
    ((doc,),) = await rows(pool, "SELECT doc_v1 FROM store.station_docs WHERE station_id = 1")
    assert json.loads(doc)["services"][0]["icon"] == icon_path
    media = await admin.get(icon_path)
    assert media.status_code == 200
    assert media.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_refused_upload_keeps_the_old_icon(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    await sign_in(admin, "boss", "boss-password")
    page = "/admin/fuel-type/presentation/1"
    token = await csrf(admin, page)
    await admin.post(
        page,
        data={"csrf_token": token},
        files={"icon": ("a.png", png(20, 20), "image/png")},
        headers=ORIGIN,
    )
    ((before,),) = await rows(pool, "SELECT icon_path FROM store.fuel_types WHERE id = 1")
    response = await admin.post(
        page,
        data={"csrf_token": token, "display_name": "new name"},
        files={"icon": ("a.png", b"GIF89a not really", "image/png")},
        headers=ORIGIN,
    )
    assert response.status_code == 400
    assert "previous icon is kept" in response.text
    after = await rows(pool, "SELECT icon_path, display_name FROM store.fuel_types WHERE id = 1")
    assert after == [(before, None)]


async def test_oversized_body_is_refused_with_413(admin: httpx.AsyncClient) -> None:
    await sign_in(admin, "boss", "boss-password")
    response = await admin.post(
        "/admin/fuel-type/presentation/1",
        files={"icon": ("big.png", b"\0" * (4 * 1024 * 1024), "image/png")},
        headers=ORIGIN,
    )
    assert response.status_code == 413
    assert "at most 2 MB" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/admin/fuel-type/presentation/0",
        "/admin/fuel-type/presentation/abc",
        "/admin/fuel-type/presentation/99999",
        "/admin/fuel-type/presentation/99999999999999999999",
    ],
)
async def test_unknown_catalog_entry_is_404(admin: httpx.AsyncClient, path: str) -> None:
    await sign_in(admin, "boss", "boss-password")
    assert (await admin.get(path)).status_code == 404


@pytest.mark.parametrize(
    "name", ["x.png", "../../etc/passwd", "%2e%2e%2fsecret", "a" * 64 + "-256.png"]
)
async def test_media_serves_only_icon_names(admin: httpx.AsyncClient, name: str) -> None:
    assert (await admin.get(f"/media/icons/{name}")).status_code == 404


async def test_held_deletion_approved_from_the_status_page(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    at = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO store.absences VALUES ('stations', 2, 1, %s, %s)", (at, at + timedelta(1))
        )
    await sign_in(admin, "boss", "boss-password")
    token = await csrf(admin, "/admin/status")
    assert "stations:2" in (await admin.get("/admin/status")).text
    bad = await admin.post(
        "/admin/status/approve", data={"csrf_token": token, "held": "stations:x"}, headers=ORIGIN
    )
    assert bad.status_code == 400
    response = await admin.post(
        "/admin/status/approve", data={"csrf_token": token, "held": "stations:2"}, headers=ORIGIN
    )
    assert response.status_code == 200
    assert "1 deletion(s) applied" in response.text
    assert await rows(pool, "SELECT deleted FROM store.stations WHERE id = 2") == [(True,)]
    assert await rows(pool, "SELECT deleted FROM store.station_docs WHERE station_id = 2") == [
        (True,)
    ]
    log = await rows(pool, "SELECT actor, action, target_id, after FROM store.admin_audit_log")
    assert log == [("boss", "deletion.approve", "2", {"deleted": 1})]


async def test_held_deletion_rejected_keeps_the_station_and_resets_the_count(
    admin: httpx.AsyncClient, pool: AsyncConnectionPool
) -> None:
    at = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO store.absences VALUES ('stations', 2, 2, %s, %s)", (at, at + timedelta(1))
        )
    await sign_in(admin, "boss", "boss-password")
    token = await csrf(admin, "/admin/status")
    response = await admin.post(
        "/admin/status/approve",
        data={"csrf_token": token, "held": "stations:2", "decision": "reject"},
        headers=ORIGIN,
    )
    assert response.status_code == 200
    assert "1 entity(ies) kept" in response.text
    assert await rows(pool, "SELECT deleted FROM store.stations WHERE id = 2") == [(False,)]
    assert await rows(pool, "SELECT count(*) FROM store.absences") == [(0,)]
    assert "stations:2" not in (await admin.get("/admin/status")).text
    log = await rows(pool, "SELECT actor, action, target_id, after FROM store.admin_audit_log")
    assert log == [("boss", "deletion.reject", "2", {"kept": 1})]


async def test_accounts_go_through_auth_and_are_audited_without_secrets(
    admin: httpx.AsyncClient, auth: AuthHarness, pool: AsyncConnectionPool
) -> None:
    await sign_in(admin, "boss", "boss-password")
    page = await admin.get("/admin/accounts")
    assert "reader" in page.text
    token = await csrf(admin, "/admin/accounts")
    response = await admin.post(
        "/admin/accounts/change",
        data={"csrf_token": token, "op": "create_user", "username": "newbie"},
        headers=ORIGIN,
    )
    assert response.status_code == 200, response.text
    match = re.search(r'id="one-time-secret">([^<]+)<', response.text)
    assert match is not None
    assert (await auth.login("newbie", match[1])).status_code == 200
    response = await admin.post(
        "/admin/accounts/change",
        data={"csrf_token": token, "op": "disable_user", "username": "newbie"},
        headers=ORIGIN,
    )
    assert response.status_code == 200
    assert (await auth.login("newbie", match[1])).status_code == 401
    taken = await admin.post(
        "/admin/accounts/change",
        data={"csrf_token": token, "op": "create_user", "username": "reader"},
        headers=ORIGIN,
    )
    assert taken.status_code == 400
    assert "Refused by auth" in taken.text
    log = await rows(pool, "SELECT action, target_id, after FROM store.admin_audit_log ORDER BY id")
    assert [(a, t) for a, t, _ in log] == [
        ("account.create_user", "newbie"),
        ("account.disable_user", "newbie"),
    ]
    assert log[0][2]["password"] == "***"
    assert match[1] not in json.dumps([r[2] for r in log])

"""The admin in a real Chromium: sign-in (admin yes, non-admin no), icon upload reaching the
read model and the media URL, bad uploads refused with a message; a screenshot of each page."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fuelhub_store.admin import testing as t
from fuelhub_store.db import make_pool
from PIL import Image
from psycopg_pool import AsyncConnectionPool

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[4] / "test-artifacts" / "admin"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("install Debian's chromium and chromium-driver (apt-get install ...)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=tmp_path)}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass(frozen=True)
class System:
    admin: str
    auth: str
    api: str


@pytest.fixture
def system(
    store_db_url: str, postgres_database_factory: Callable[[], str], tmp_path: Path
) -> Iterator[System]:
    """auth (with dev-bootstrap's admin and demo), the admin and the read API, as processes."""
    auth_db = postgres_database_factory()
    with (
        t.run_auth(auth_db, tmp_path) as auth_url,
        t.run_admin(store_db_url, auth_url, tmp_path) as admin_url,
        t.run_api(store_db_url, auth_url, tmp_path) as api_url,
    ):
        yield System(admin=admin_url, auth=auth_url, api=api_url)


@pytest.fixture
async def seeded(store_db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    pool = make_pool(store_db_url, size=1)
    await pool.open()
    async with pool.connection() as conn:
        await t.seed(conn)
    yield pool
    await pool.close()


def shot(driver: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]


def login(driver: object, base: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/admin/login")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "username").send_keys(username)  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "password").send_keys(password)  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
    wait_until(
        driver,
        lambda d: (
            d.find_elements(By.CLASS_NAME, "invalid-feedback")
            or not d.current_url.endswith("/admin/login")
        ),
    )


def wait_until(driver: object, condition: Callable[[Any], Any]) -> Any:
    """Wait for the page the last click loaded (a click does not wait for the navigation)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 30).until(condition)  # type: ignore[arg-type]


def upload(driver: object, page: str, path: Path) -> str:
    """Submit ``path`` as the icon; return the page's outcome ("error: …" or "saved: …")."""
    from selenium.webdriver.common.by import By

    driver.get(page)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "icon").send_keys(str(path))  # type: ignore[attr-defined]
    driver.find_element(By.ID, "save").click()  # type: ignore[attr-defined]

    def outcome(d: Any) -> str | None:
        for element_id, label in (("form-error", "error"), ("form-message", "saved")):
            found = d.find_elements(By.ID, element_id)
            if found:
                return f"{label}: {found[0].text}"
        return None

    result: str = wait_until(driver, outcome)
    return result


async def fuel_row(pool: AsyncConnectionPool, name: str) -> tuple[int, str | None]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, icon_path FROM store.fuel_types WHERE name = %s", (name,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), row[1]


async def test_admin_in_a_real_browser(
    browser: object,
    seeded: AsyncConnectionPool,
    system: System,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    base = system.admin
    driver = browser

    # Anyone not signed in is sent to the login page.
    driver.get(base + "/admin/fuel-type/list")  # type: ignore[attr-defined]
    assert driver.current_url.endswith("/admin/login")  # type: ignore[attr-defined]
    shot(driver, "01-login")

    # A non-admin account is refused with a message.
    login(driver, base, t.DEMO_USER, t.DEMO_PASSWORD)
    assert "not an administrator" in driver.page_source  # type: ignore[attr-defined]
    shot(driver, "02-login-refused-non-admin")
    driver.get(base + "/admin/fuel-type/list")  # type: ignore[attr-defined]
    assert driver.current_url.endswith("/admin/login")  # type: ignore[attr-defined]

    login(driver, base, "admin", t.ADMIN_PASSWORD)
    assert driver.current_url.rstrip("/").endswith("/admin")  # type: ignore[attr-defined]
    cookie = driver.get_cookie("fuelhub_admin")  # type: ignore[attr-defined]
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    shot(driver, "03-home")

    driver.get(base + "/admin/fuel-type/list")  # type: ignore[attr-defined]
    assert "АИ-95" in driver.page_source  # type: ignore[attr-defined]
    shot(driver, "04-fuel-types")
    fuel_id, icon_before = await fuel_row(seeded, "АИ-95")
    assert icon_before is None
    page = f"{base}/admin/fuel-type/presentation/{fuel_id}"

    bad = {
        "text-renamed.png": (t.NOT_AN_IMAGE, "not a PNG, JPEG or WebP"),
        "oversize-bytes.png": (t.noisy_png(2 * 1024 * 1024 + 100_000), "at most 2 MB"),
        "oversize-pixels.png": (t.png(5000, 40), "at most 4096×4096 px"),
        "bomb.png": (t.png_bomb(), "decompression bomb"),
        "vector.svg": (t.SVG, "SVG images are refused"),
    }
    for index, (name, (data, message)) in enumerate(bad.items()):
        path = tmp_path / name
        path.write_bytes(data)
        error = upload(driver, page, path)
        assert error.startswith("error: "), (name, error)
        assert message in error, (name, error)
        assert "previous icon is kept" in error
        shot(driver, f"05-upload-refused-{index}-{path.stem}")
        assert await fuel_row(seeded, "АИ-95") == (fuel_id, None)

    good = tmp_path / "photo.jpg"
    good.write_bytes(t.jpeg_with_exif(300, 200))
    saved = upload(driver, page, good)
    assert saved.startswith("saved: Saved"), saved
    shot(driver, "06-icon-saved")
    _, icon_path = await fuel_row(seeded, "АИ-95")
    assert icon_path is not None
    assert icon_path.startswith("/media/icons/")
    assert icon_path.endswith("-128.png")

    # The read model (what the API serves) carries the new icon at once.
    async with seeded.connection() as conn:
        cur = await conn.execute("SELECT station_id, doc_v1 FROM store.station_docs ORDER BY 1")
        docs = {sid: json.loads(doc) for sid, doc in await cur.fetchall()}
    for doc in docs.values():
        fuels = {f["fuel_type"]["name"]: f["fuel_type"]["icon"] for f in doc["fuels"]}
        assert fuels["АИ-95"] == icon_path
        assert fuels.get("ДТ") is None

    # The read API returns it (as an absolute URL on its public base) without a restart.
    async with httpx.AsyncClient() as http:
        login_response = await http.post(
            system.auth + "/api/v1/token/",
            json={"username": t.DEMO_USER, "password": t.DEMO_PASSWORD},
        )
        token = login_response.json()["access"]
        listing = await http.get(
            system.api + "/api/v1/fuel-stations",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert listing.status_code == 200, listing.text
    icons = {
        f["fuel_type"]["name"]: f["fuel_type"]["icon"]
        for station in listing.json()["results"]
        for f in station["fuels"]
    }
    assert icons["АИ-95"].startswith("http")
    assert icons["АИ-95"].endswith(icon_path)

    # The icon URL serves the processed image: a 128×128 PNG, cacheable for long.
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.get(icon_path)
        small = await http.get(icon_path.replace("-128.png", "-64.png"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers["cache-control"]
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (128, 128))
    assert not image.getexif()
    assert Image.open(io.BytesIO(small.content)).size == (64, 64)

    # The change is in the audit log, by the admin.
    driver.get(base + "/admin/audit-entry/list")  # type: ignore[attr-defined]
    body = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert "icon.set" in body, body
    shot(driver, "07-audit-log")
    async with seeded.connection() as conn:
        cur = await conn.execute(
            "SELECT actor, before->>'icon_path', after->>'icon_path' FROM store.admin_audit_log"
        )
        assert await cur.fetchall() == [("admin", None, icon_path)]

    async with seeded.connection() as conn:  # one held deletion, so the status page shows one
        await conn.execute("INSERT INTO store.absences VALUES ('stations', 2, 1, now(), now())")
    driver.get(base + "/admin/accounts")  # type: ignore[attr-defined]
    users = driver.find_element(By.ID, "users").text  # type: ignore[attr-defined]
    assert "demo" in users
    assert "admin" in users
    shot(driver, "14-accounts")

    for name, url in [
        ("08-status", "/admin/status"),
        ("09-aliases", "/admin/fuel-alias/list"),
        ("10-services", "/admin/service/list"),
        ("11-stations", "/admin/station/list"),
        ("12-prices", "/admin/current-price/list"),
        ("13-price-history", "/admin/price-history/list"),
    ]:
        driver.get(base + url)  # type: ignore[attr-defined]
        assert driver.current_url.endswith(url), url  # type: ignore[attr-defined]
        shot(driver, name)

    # Signing out ends the session.
    driver.get(base + "/admin/logout")  # type: ignore[attr-defined]
    driver.get(base + "/admin/fuel-type/list")  # type: ignore[attr-defined]
    assert driver.current_url.endswith("/admin/login")  # type: ignore[attr-defined]


def test_artifacts_dir_is_git_ignored() -> None:
    root = ARTIFACTS.parents[1]
    assert "test-artifacts/" in (root / ".gitignore").read_text().splitlines()

"""Test support for the admin (not used at run time): real auth and admin processes on free
ports, a seeded store, and image files good and bad."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from struct import pack

import httpx
from asgi_lifespan import LifespanManager
from fuelhub_common.guard import GuardPolicy
from fuelhub_common.testing import free_port
from fuelhub_common.tokens import TokenVerifier
from PIL import Image
from psycopg import AsyncConnection

from fuelhub_store.admin.app import create_app
from fuelhub_store.admin.settings import AdminSettings
from fuelhub_store.service import handle
from fuelhub_store.testing import change_set, price_list, station

ISSUER = "http://issuer.test"
ADMIN_PASSWORD = "admin-password-123"  # noqa: S105 - test account
DEMO_USER, DEMO_PASSWORD = "demo", "demo12345"  # dev-bootstrap's non-admin account
SESSION_SECRET = "s" * 48


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready:\n{log.read_text()[-3000:]}")


@contextmanager
def _process(
    args: list[str], env: Mapping[str, str], log: Path, ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        _wait_http(ready_url, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def auth_env(database_url: str, keys_dir: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "HTTP_PORT": str(port),
        "AUTH_PROFILE": "dev",
        "AUTH_ISSUER": ISSUER,
        "AUTH_KEYS_DIR": str(keys_dir),
        "AUTH_ARGON2_TIME_COST": "1",
        "AUTH_ARGON2_MEMORY_KIB": "1024",
        "AUTH_DEV_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "LOG_FORMAT": "text",
    }


@contextmanager
def run_auth(database_url: str, workdir: Path) -> Iterator[str]:
    """auth as a real process, after ``dev-bootstrap`` (admin + demo users); yields its URL."""
    port = free_port()
    env = auth_env(database_url, workdir / "auth-keys", port)
    subprocess.run(
        [sys.executable, "-m", "fuelhub_auth", "dev-bootstrap"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "fuelhub_auth", "serve", "--port", str(port)]
    with _process(args, env, workdir / "auth.log", url + "/healthz"):
        yield url


def admin_env(database_url: str, auth_url: str, media_dir: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "HTTP_PORT": str(port),
        "AUTH_URL": auth_url,
        "AUTH_JWKS_URL": auth_url + "/.well-known/jwks.json",
        "AUTH_ISSUER": ISSUER,
        "ADMIN_MEDIA_DIR": str(media_dir),
        "ADMIN_SESSION_SECRET": SESSION_SECRET,
        "LOG_FORMAT": "text",
    }


@contextmanager
def run_admin(database_url: str, auth_url: str, workdir: Path) -> Iterator[str]:
    """The admin as a real process (``fuelhub-store-admin``); yields its base URL."""
    port = free_port()
    env = admin_env(database_url, auth_url, workdir / "media", port)
    args = [sys.executable, "-m", "fuelhub_store.admin.main"]
    url = f"http://127.0.0.1:{port}"
    with _process(args, env, workdir / "admin.log", url + "/healthz"):
        yield url


@contextmanager
def run_api(database_url: str, auth_url: str, workdir: Path) -> Iterator[str]:
    """The read API (``fuelhub-api``) as a real process on the same database; yields its URL."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "HTTP_PORT": str(port),
        "AUTH_ISSUER": ISSUER,
        "AUTH_JWKS_URL": auth_url + "/.well-known/jwks.json",
        "LOG_FORMAT": "text",
    }
    url = f"http://127.0.0.1:{port}"
    with _process(
        [sys.executable, "-m", "fuelhub_api.main"], env, workdir / "api.log", url + "/healthz"
    ):
        yield url


async def seed(conn: AsyncConnection) -> None:
    """Two stations selling АИ-95 and ДТ, one with a car wash, applied as the store applies."""
    at = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    stations = [station(1, at, services=("Мойка",)), station(2, at, services=())]
    prices = [
        price_list(1, at, [("АИ-95", "54.9", "RUB"), ("ДТ", "61.2", "RUB")]),
        price_list(2, at, [("АИ-95", "55.1", "RUB")]),
    ]
    parts = [*change_set(stations, at), *change_set(prices, at, prices=True)]
    for part in parts:
        await handle(conn, part, part.model_dump_json(), GuardPolicy())


# --- images ------------------------------------------------------------------------------


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 300, height: int = 200) -> bytes:
    """A JPEG carrying EXIF (orientation 6 = rotate 90° and a camera make)."""
    image = Image.new("RGB", (width, height), (20, 120, 220))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCamera"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 30_000) -> bytes:
    """A tiny PNG declaring ``side``×``side`` px (900 Mpx of zeros: a decompression bomb)."""
    header = pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + side // 8)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def noisy_png(min_bytes: int) -> bytes:
    """A valid PNG of random pixels at least ``min_bytes`` long (incompressible)."""
    side = int((min_bytes / 3) ** 0.5) + 16
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=0)
    return out.getvalue()


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10" fill="red"/></svg>'
)
NOT_AN_IMAGE = b"this is a text file pretending to be a PNG\n" * 10


# --- in-process ----------------------------------------------------------------------------

ADMIN_BASE = "http://admin.test"
ORIGIN = {"Origin": ADMIN_BASE}


@asynccontextmanager
async def in_process_admin(
    settings: AdminSettings, auth_http: httpx.AsyncClient, verifier: TokenVerifier
) -> AsyncIterator[httpx.AsyncClient]:
    """The admin app in-process (lifespan run), talking to an in-process auth."""
    app = create_app(settings, auth_http=auth_http, verifier=verifier)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("10.0.0.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=ADMIN_BASE) as client:
            yield client


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/admin/login", data={"username": username, "password": password}, headers=ORIGIN
    )


async def form_token(client: httpx.AsyncClient, page: str) -> str:
    """The CSRF token of the admin form on ``page``."""
    response = await client.get(page)
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    if response.status_code != 200 or match is None:
        raise AssertionError(f"{page}: no form ({response.status_code})")
    return match[1]

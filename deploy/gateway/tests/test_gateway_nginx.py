"""The gateway's nginx config, rendered and run for real in front of echo upstreams: routing,
X-Forwarded-* overwritten at the edge, CORS, preflight, gzip, body limit, rate limit, SSE."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

GATEWAY_PY = Path(__file__).resolve().parents[1] / "gateway.py"
pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed",
)


def load_gateway() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuelhub_gateway_runner", GATEWAY_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gateway = load_gateway()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def echo_app(name: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        payload = orjson.dumps(
            {
                "upstream": name,
                "path": scope["path"],
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body_size": len(body),
                "pad": "x" * 4000,  # big enough for gzip
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def test_render_validates_settings_and_passes_nginx_t(tmp_path: Path) -> None:
    text = gateway.render({"GATEWAY_CORS_ORIGINS": "https://app.example"}, is_root=False)
    assert '"https://app.example" $http_origin;' in text
    assert not re.search(r"@[A-Z_]+@", text)
    conf = gateway.prepare(tmp_path, text)
    nginx = gateway.nginx_binary()
    result = os.system(f"{nginx} -p {tmp_path}/ -e stderr -c {conf} -t -q")
    assert result == 0
    # the API upstream may be a Unix socket on this host
    text = gateway.render({"GATEWAY_API_UPSTREAM": f"unix:{tmp_path}/api.sock"}, is_root=False)
    assert f"server unix:{tmp_path}/api.sock;" in text
    conf = gateway.prepare(tmp_path, text)
    assert os.system(f"{nginx} -p {tmp_path}/ -e stderr -c {conf} -t -q") == 0
    for bad in (
        {"GATEWAY_API_UPSTREAM": "unix:/tmp/a.sock; include /etc/passwd"},
        {"GATEWAY_API_UPSTREAM": "unix:relative.sock"},
        {"GATEWAY_CORS_ORIGINS": "https://a.example; evil"},
        {"GATEWAY_LISTEN": "0.0.0.0:80; include /etc/passwd"},
        {"GATEWAY_RATE_LIMIT": "lots"},
        {"GATEWAY_CLIENT_MAX_BODY": "1g;"},
        {"GATEWAY_PREFIX": "/a b"},
    ):
        with pytest.raises(gateway.ConfigError):
            gateway.render(bad, is_root=False)


async def _serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server._serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    return server, task


@pytest.fixture
async def running_gateway(tmp_path: Path) -> AsyncIterator[str]:
    api_port, auth_port, admin_port, port = free_port(), free_port(), free_port(), free_port()
    servers = [
        await _serve(echo_app("api"), api_port),
        await _serve(echo_app("auth"), auth_port),
        await _serve(echo_app("admin"), admin_port),
    ]
    env = {
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_API_UPSTREAM": f"127.0.0.1:{api_port}",
        "GATEWAY_AUTH_UPSTREAM": f"127.0.0.1:{auth_port}",
        "GATEWAY_ADMIN_UPSTREAM": f"127.0.0.1:{admin_port}",
        "GATEWAY_CORS_ORIGINS": "https://app.example",
        "GATEWAY_CLIENT_MAX_BODY": "64k",
        "GATEWAY_RATE_LIMIT": "5r/s",
        "GATEWAY_RATE_BURST": "20",
        "GATEWAY_WORKERS": "1",
    }
    conf = gateway.prepare(tmp_path, gateway.render(env, is_root=os.geteuid() == 0))
    process = await asyncio.create_subprocess_exec(
        gateway.nginx_binary(),
        "-p",
        f"{tmp_path}/",
        "-e",
        "stderr",
        "-c",
        str(conf),
        "-g",
        "daemon off;",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    await client.get(f"{base}/gateway/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
        yield base
    finally:
        process.terminate()
        await process.wait()
        for server, task in servers:
            server.should_exit = True
            await task


async def test_gateway_routes_and_sets_forwarded_headers(running_gateway: str) -> None:
    base = running_gateway
    async with httpx.AsyncClient(base_url=base) as client:
        routes = {
            "/api/v1/token/": "auth",
            "/api/v1/token/refresh/": "auth",
            "/oauth/token": "auth",
            "/.well-known/jwks.json": "auth",
            "/accounts/me": "auth",
            "/api/v1/fuel-stations": "api",
            "/api/v2/fuel-stations/1": "api",
            "/api/docs": "api",
            "/admin/": "admin",
            "/media/icons/a.png": "admin",
        }
        for path, upstream in routes.items():
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.json()["upstream"] == upstream, path
        assert (await client.get("/elsewhere")).status_code == 404
        forged = {
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-For": "6.6.6.6",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Prefix": "/evil",
        }
        seen = (await client.get("/api/v1/fuel-stations", headers=forged)).json()["headers"]
        port = base.rsplit(":", 1)[1]
        assert seen["x-forwarded-host"] == f"127.0.0.1:{port}"
        assert seen["x-forwarded-for"] == "127.0.0.1"
        assert seen["x-forwarded-proto"] == "http"
        assert "x-forwarded-prefix" not in seen or seen["x-forwarded-prefix"] == ""


async def test_gateway_cors_gzip_and_body_limit(running_gateway: str) -> None:
    async with httpx.AsyncClient(base_url=running_gateway) as client:
        allowed = await client.get(
            "/api/v1/fuel-stations", headers={"Origin": "https://app.example"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "ETag" in allowed.headers["access-control-expose-headers"]
        other = await client.get(
            "/api/v1/fuel-stations", headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        preflight = await client.options(
            "/api/v1/fuel-stations",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status_code == 204
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        zipped = await client.get("/api/v1/fuel-stations", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.json()["upstream"] == "api"  # httpx decompresses
        too_big = await client.post("/api/v1/token/", content=b"x" * 70_000)
        assert too_big.status_code == 413
        fine = await client.post("/api/v1/token/", content=b"x" * 1000)
        assert fine.json()["body_size"] == 1000


async def test_gateway_rate_limits_per_client(running_gateway: str) -> None:
    async with httpx.AsyncClient(base_url=running_gateway) as client:
        statuses = [(await client.get("/api/v1/fuel-stations")).status_code for _ in range(60)]
    assert statuses.count(200) >= 20
    assert 429 in statuses

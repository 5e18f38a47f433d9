"""The fuelhub-auth CLI against a real database, and `serve` as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fuelhub_auth.cli import app
from fuelhub_auth.keys import load_key_dir
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(
    tmp_path: Path, postgres_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        "DATABASE_URL": postgres_database_factory(),
        "AUTH_KEYS_DIR": str(tmp_path / "keys"),
        "AUTH_PROFILE": "dev",
        "AUTH_ARGON2_TIME_COST": "1",
        "AUTH_ARGON2_MEMORY_KIB": "1024",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUTH_DEV_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("AUTH_SIGNING_KEYS", raising=False)
    return env


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_dev_bootstrap_is_idempotent(cli_env: dict[str, str]) -> None:
    code, out = run("dev-bootstrap")
    assert code == 0, out
    assert "generated signing key" in out
    assert "created demo user: demo / demo12345" in out
    assert "created admin user: admin / " in out
    assert len(load_key_dir(Path(cli_env["AUTH_KEYS_DIR"]))) == 1
    code, out = run("dev-bootstrap")
    assert code == 0
    assert "generated" not in out
    assert "admin user exists" in out
    assert len(load_key_dir(Path(cli_env["AUTH_KEYS_DIR"]))) == 1
    code, out = run("list-users")
    assert out.splitlines() == [
        "admin\tenabled\tadmin stations:read",
        "demo\tenabled\tstations:read",
    ]


def test_dev_bootstrap_in_prod_makes_no_accounts(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_PROFILE", "prod")
    code, out = run("dev-bootstrap")
    assert code == 0
    assert "no demo accounts" in out
    code, out = run("list-users")
    assert out.strip() == ""


def test_admin_password_from_env(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_DEV_ADMIN_PASSWORD", "admin-from-env")
    code, out = run("dev-bootstrap")
    assert code == 0
    assert "admin-from-env" not in out
    assert "from AUTH_DEV_ADMIN_PASSWORD" in out


def test_users_clients_and_keys(cli_env: dict[str, str]) -> None:
    code, out = run("create-user", "alice", "-s", "stations:read", "-s", "admin")
    assert code == 0, out
    assert "password (shown once): " in out
    assert run("create-user", "alice")[0] == 1
    assert run("create-user", "bob", "-s", "root")[0] == 1
    assert run("create-user", "bad name")[0] == 1
    assert run("create-user", "carol", "--password", "short")[0] == 1
    assert run("disable-user", "alice")[0] == 0
    assert run("disable-user", "nobody")[0] == 1
    assert "alice\tdisabled\tadmin stations:read" in run("list-users")[1]
    code, out = run("create-client", "partner", "--name", "Partner")
    assert code == 0
    assert "client_secret (shown once): " in out
    assert run("disable-client", "partner")[0] == 0
    assert "partner\tdisabled\tstations:read\tPartner" in run("list-clients")[1]
    run("dev-bootstrap")
    code, out = run("rotate-key")
    assert code == 0
    assert len(load_key_dir(Path(cli_env["AUTH_KEYS_DIR"]))) == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_and_stops_on_sigterm(cli_env: dict[str, str]) -> None:
    port = _free_port()
    env = {**os.environ, **cli_env, "LOG_FORMAT": "json"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fuelhub_auth", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "auth did not become ready"
                time.sleep(0.2)
            jwks = client.get("/.well-known/jwks.json").json()
            assert len(jwks["keys"]) == 1
            bad = client.post("/api/v1/token/", data={"username": "x", "password": "y"})
            assert bad.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its graceful shutdown: -SIGTERM is a clean stop.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    output = process.stdout.read().decode() if process.stdout else ""
    assert "Application shutdown complete" in output


def test_prod_serve_without_keys_exits_with_a_clear_message(cli_env: dict[str, str]) -> None:
    env = {**os.environ, **cli_env, "AUTH_PROFILE": "prod"}
    result = subprocess.run(
        [sys.executable, "-m", "fuelhub_auth", "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "prod profile never generates" in result.stdout + result.stderr

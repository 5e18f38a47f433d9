"""Admin settings: defaults, the session secret rules, dev secret generation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fuelhub_store.admin.settings import AdminSettings
from pydantic import ValidationError


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PORT", "AUTH_URL", "ADMIN_MEDIA_DIR", "ADMIN_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings = AdminSettings()
    assert settings.http_port == 8003
    assert settings.auth_url == "http://127.0.0.1:8001"
    assert settings.admin_media_dir == Path("var/media")
    assert settings.cookie_secure is False


def test_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ADMIN_MEDIA_DIR", str(tmp_path))
    monkeypatch.setenv("AUTH_URL", "http://auth:8001")
    settings = AdminSettings()
    assert settings.admin_media_dir == tmp_path
    assert settings.auth_url == "http://auth:8001"


def test_prod_requires_a_session_secret_and_secure_cookies() -> None:
    with pytest.raises(ValidationError, match="ADMIN_SESSION_SECRET is required"):
        AdminSettings(admin_profile="prod")
    settings = AdminSettings(admin_profile="prod", admin_session_secret="x" * 40)
    assert settings.cookie_secure is True
    assert settings.session_secret() == "x" * 40


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        AdminSettings(admin_session_secret="short")


@pytest.mark.parametrize("url", ["ftp://auth", "http://auth/", "auth:8001"])
def test_bad_auth_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        AdminSettings(auth_url=url)


def test_dev_generates_a_private_secret_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "admin-session-secret"
    settings = AdminSettings(admin_session_secret_file=path)
    first = settings.session_secret()
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.session_secret() == first

"""Settings defaults and validation; the key ring, key files and their retention."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fuelhub_auth.keys import (
    KeyConfigError,
    KeyRing,
    KeySource,
    load_key_dir,
    new_signing_key,
    parse_key,
    prune_key_dir,
    write_key,
)
from fuelhub_auth.settings import AuthSettings
from pydantic import ValidationError


def test_defaults_are_owasp_argon2_and_short_tokens() -> None:
    settings = AuthSettings(_env_file=None)  # type: ignore[call-arg]
    assert (
        settings.auth_argon2_time_cost,
        settings.auth_argon2_memory_kib,
        settings.auth_argon2_parallelism,
    ) == (2, 19456, 1)
    assert settings.auth_access_ttl_seconds == 900
    assert settings.auth_refresh_ttl_seconds == 86400
    assert settings.http_port == 8001
    assert settings.auth_issuer == "http://127.0.0.1:8000"
    assert settings.auth_audience == "fuelhub-api"
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ACCESS_TTL_SECONDS", "60")
    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", "10.0.0.0/8")
    settings = AuthSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.auth_access_ttl_seconds == 60
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8"]


@pytest.mark.parametrize(
    "values",
    [
        {"auth_trusted_proxies": "not-a-network"},
        {"auth_profile": "staging"},
        {"auth_profile": "prod", "auth_dev_admin_password": "x"},
        {"auth_access_ttl_seconds": 0},
        {"database_url": "mysql://x"},
        {"auth_issuer": "http://127.0.0.1:8000/"},
        {"auth_issuer": "ftp://x"},
    ],
)
def test_bad_settings_are_refused(values: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError):
        AuthSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_ring_signs_with_newest_and_retires_old_after_retention() -> None:
    old = new_signing_key(now=lambda: 1000.0)
    new = new_signing_key(now=lambda: 2000.0)
    ring = KeyRing([old, new], retention_seconds=500)
    assert ring.signing_key.kid == new.kid
    assert {k.kid for k in ring.live_keys(now=2400)} == {old.kid, new.kid}
    assert {k.kid for k in ring.live_keys(now=2501)} == {new.kid}
    published = ring.jwks(now=2400)["keys"]
    assert all(set(k) == {"kty", "crv", "x", "kid", "alg", "use"} for k in published)


def test_key_files_round_trip_private_and_pruned(tmp_path: Path) -> None:
    old = new_signing_key(now=lambda: 1000.0)
    new = new_signing_key(now=lambda: 2000.0)
    path = write_key(tmp_path / "keys", old)
    write_key(tmp_path / "keys", new)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert {k.kid for k in load_key_dir(tmp_path / "keys")} == {old.kid, new.kid}
    assert prune_key_dir(tmp_path / "keys", retention_seconds=100, now=2050) == []
    assert prune_key_dir(tmp_path / "keys", retention_seconds=100, now=2101) == [old.kid]
    assert [k.kid for k in load_key_dir(tmp_path / "keys")] == [new.kid]


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"kty": "OKP"},
        {"iat": "yesterday"},
        {"iat": 1, "kty": "oct", "k": "c2VjcmV0"},
    ],
)
def test_bad_key_documents(document: object) -> None:
    with pytest.raises(KeyConfigError):
        parse_key(document, "test")


def test_public_key_alone_is_refused() -> None:
    key = new_signing_key()
    public = {**key.key.as_dict(private=False), "iat": 1}
    with pytest.raises(KeyConfigError, match="private"):
        parse_key(json.loads(json.dumps(public)), "test")


def test_key_source_dev_generates_prod_refuses(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError):
        KeySource(
            directory=tmp_path / "prod", env_value=None, retention_seconds=60, allow_generate=False
        )
    source = KeySource(
        directory=tmp_path / "dev", env_value=None, retention_seconds=60, allow_generate=True
    )
    assert len(load_key_dir(tmp_path / "dev")) == 1
    first = source.ring().signing_key.kid
    again = KeySource(
        directory=tmp_path / "dev", env_value=None, retention_seconds=60, allow_generate=True
    )
    assert again.ring().signing_key.kid == first, "a restart reuses the key"

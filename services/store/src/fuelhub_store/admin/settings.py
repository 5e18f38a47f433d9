"""The admin process's settings (one class, validated at start)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from fuelhub_common.settings import DEFAULT_DATABASE_URL, BaseServiceSettings
from pydantic import Field, SecretStr, model_validator

MIN_SECRET_LENGTH = 32


class AdminSettings(BaseServiceSettings):
    """Admin-only names carry the ``ADMIN_`` prefix; shared ones (``DATABASE_URL``, ``AUTH_*``)
    are read as every service reads them."""

    http_port: int = Field(default=8003, ge=0, le=65535, description="Port the admin serves on.")
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        pattern=r"^postgres(ql)?(\+psycopg)?://",
        description="Postgres URL of the fuelhub database (schema `store`).",
    )
    auth_url: str = Field(
        default="http://127.0.0.1:8001",
        pattern=r"^https?://[^\s]+[^/]$",
        description="Base URL of the auth service (login, refresh, accounts API).",
    )
    auth_issuer: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/]+")
    auth_audience: str = Field(default="fuelhub-api", min_length=1)
    auth_jwks_url: str = Field(
        default="http://127.0.0.1:8001/.well-known/jwks.json", pattern=r"^https?://"
    )
    admin_trusted_proxies: str = Field(
        default="127.0.0.1",
        min_length=1,
        description=(
            "Comma-separated addresses/CIDRs whose X-Forwarded-* headers are trusted (the "
            "gateway); uvicorn's forwarded_allow_ips."
        ),
    )
    admin_profile: Literal["dev", "prod"] = Field(
        default="dev",
        description="`dev` generates the session secret into var/ when unset; `prod` requires "
        "ADMIN_SESSION_SECRET and secure cookies.",
    )
    admin_session_secret: SecretStr | None = Field(
        default=None, description=f"Signs the session cookie; at least {MIN_SECRET_LENGTH} chars."
    )
    admin_session_secret_file: Path = Field(
        default=Path("var/admin-session-secret"),
        description="Dev only: where a generated session secret is kept.",
    )
    admin_session_max_age: int = Field(
        default=8 * 3600, ge=60, le=7 * 86400, description="Session cookie lifetime (seconds)."
    )
    admin_cookie_secure: bool | None = Field(
        default=None, description="Send the cookie over HTTPS only (default: true in prod)."
    )
    admin_media_dir: Path = Field(default=Path("var/media"), description="Processed icons.")
    admin_db_pool_size: int = Field(default=4, ge=1, le=64)
    admin_max_body_bytes: int = Field(
        default=3 * 1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="Request body cap (an icon upload is at most 2 MB plus the form).",
    )
    admin_migrate_on_start: bool = Field(
        default=True, description="Apply the store's Alembic migrations at start."
    )

    @model_validator(mode="after")
    def _prod_rules(self) -> AdminSettings:
        secret = self.admin_session_secret
        if secret is not None and len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"ADMIN_SESSION_SECRET must be at least {MIN_SECRET_LENGTH} chars")
        if self.admin_profile == "prod" and secret is None:
            raise ValueError("ADMIN_SESSION_SECRET is required with ADMIN_PROFILE=prod")
        return self

    @property
    def cookie_secure(self) -> bool:
        if self.admin_cookie_secure is not None:
            return self.admin_cookie_secure
        return self.admin_profile == "prod"

    def session_secret(self) -> str:
        """The configured secret, or (dev only) one generated once into a 0600 file."""
        if self.admin_session_secret is not None:
            return self.admin_session_secret.get_secret_value()
        path = self.admin_session_secret_file
        if path.exists():
            value = path.read_text().strip()
            if len(value) >= MIN_SECRET_LENGTH:
                return value
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        value = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value

"""The auth service's settings (environment variables; see docs/auth.md for the table)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from fuelhub_common.settings import DEFAULT_DATABASE_URL, BaseServiceSettings
from pydantic import Field, SecretStr, field_validator, model_validator

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AuthSettings(BaseServiceSettings):
    """Auth-specific names carry the ``AUTH_`` prefix; ``DATABASE_URL`` is shared."""

    http_port: int = Field(default=8001, ge=0, le=65535, description="Port `serve` listens on.")
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        pattern=r"^postgres(ql)?(\+psycopg)?://",
        description="Postgres URL; auth's tables live in schema `auth`.",
    )
    auth_profile: Literal["dev", "prod"] = Field(
        default="dev",
        description="`dev` generates a signing key when none exists; `prod` refuses to start "
        "without one and never creates demo accounts.",
    )
    auth_issuer: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/]+")
    auth_audience: str = Field(default="fuelhub-api", min_length=1)
    auth_keys_dir: Path = Field(default=Path("var/auth-keys"))
    auth_signing_keys: SecretStr | None = Field(
        default=None,
        description='Private signing keys as a JWKS JSON document ({"keys": [...]}); when set, '
        "AUTH_KEYS_DIR is not read.",
    )
    auth_access_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    auth_refresh_ttl_seconds: int = Field(default=86400, ge=60, le=90 * 86400)
    auth_refresh_family_max_seconds: int = Field(default=30 * 86400, ge=60, le=365 * 86400)
    # OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
    auth_argon2_time_cost: int = Field(default=2, ge=1, le=10)
    auth_argon2_memory_kib: int = Field(default=19456, ge=8, le=1024 * 1024)
    auth_argon2_parallelism: int = Field(default=1, ge=1, le=16)
    auth_max_concurrent_hashes: int = Field(default=4, ge=1, le=64)
    auth_login_max_failures_per_username: int = Field(default=5, ge=1)
    auth_login_max_failures_per_address: int = Field(default=30, ge=1)
    auth_login_failure_window_seconds: int = Field(default=300, ge=1, le=86400)
    auth_trusted_proxies: str = Field(
        default="127.0.0.1/32,::1/128",
        description="Comma-separated networks whose X-Forwarded-For is believed.",
    )
    auth_max_body_bytes: int = Field(default=16384, ge=1024, le=1024 * 1024)
    auth_migrate_on_start: bool = True
    auth_dev_admin_password: SecretStr | None = None

    @field_validator("auth_trusted_proxies")
    @classmethod
    def _parse_networks(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"not an IP network: {part!r}") from None
        return value

    @field_validator("auth_issuer")
    @classmethod
    def _issuer_without_trailing_slash(cls, value: str) -> str:
        # The issuer is compared byte for byte by every verifier, and endpoint URLs are built
        # by appending paths to it: one canonical spelling, without the trailing slash.
        if value.endswith("/"):
            raise ValueError("must not end with '/'")
        return value

    @model_validator(mode="after")
    def _prod_rules(self) -> AuthSettings:
        if self.auth_profile == "prod" and self.auth_dev_admin_password is not None:
            raise ValueError("AUTH_DEV_ADMIN_PASSWORD is for the dev profile only")
        return self

    @cached_property
    def trusted_proxies(self) -> tuple[Network, ...]:
        parts = filter(None, (p.strip() for p in self.auth_trusted_proxies.split(",")))
        return tuple(ipaddress.ip_network(p, strict=False) for p in parts)

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
        scheme, rest = self.database_url.split("://", 1)
        return f"postgresql+psycopg://{rest}" if "+" not in scheme else self.database_url

    @property
    def key_retention_seconds(self) -> int:
        """How long a superseded key keeps verifying: until every token it signed expired."""
        return max(self.auth_access_ttl_seconds, self.auth_refresh_ttl_seconds) + 60

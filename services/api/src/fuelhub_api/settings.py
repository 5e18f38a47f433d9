"""The read API's settings: shared names unprefixed, its own prefixed ``API_``."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fuelhub_common.settings import DEFAULT_DATABASE_URL, BaseServiceSettings
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseServiceSettings):
    """Validated at start; every bad value is reported with its name by ``load_settings``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        pattern=r"^postgres(ql)?://",
        validation_alias=AliasChoices("API_DATABASE_URL", "DATABASE_URL"),
        description="Postgres holding the store's read model (schema `store`).",
    )
    auth_issuer: str = Field(default="http://127.0.0.1:8000", min_length=1)
    auth_audience: str = Field(default="fuelhub-api", min_length=1)
    auth_jwks_url: str = Field(
        default="http://127.0.0.1:8001/.well-known/jwks.json", pattern=r"^https?://"
    )
    http_port: int = Field(default=8002, ge=0, le=65535)

    api_trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = Field(
        default=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
        description="Peers whose X-Forwarded-* headers are believed (comma-separated CIDRs).",
    )
    api_pool_min_size: int = Field(default=2, ge=1, le=100)
    api_pool_max_size: int = Field(default=10, ge=1, le=200)
    api_statement_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
    api_cache_entries: int = Field(default=2048, ge=0, le=1_000_000)
    api_freshness_refresh_seconds: float = Field(default=1.0, gt=0, le=60)
    api_retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    api_sse_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    api_workers: int = Field(default=1, ge=1, le=64)
    api_unix_socket: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Also listen on this Unix socket (a gateway on the same host: cheaper than "
        "loopback TCP); its peers are trusted like API_TRUSTED_PROXIES.",
    )

    @field_validator("api_trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(ipaddress.ip_network(p.strip()) for p in value.split(",") if p.strip())
        return value

"""Settings every fuelhub service shares; each service subclasses :class:`BaseServiceSettings`.

Names shared by every service (``BROKER_URL``, ``DATABASE_URL``, ``SOURCE*``) are read without a
prefix, so one environment configures the whole system.
"""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/fuelhub"

S = TypeVar("S", bound="BaseServiceSettings")


class BaseServiceSettings(BaseSettings):
    """Settings common to every process: broker, logging, its HTTP port, shutdown budget."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    broker_url: str = Field(
        default=DEFAULT_BROKER_URL,
        pattern=r"^amqps?://",
        description="RabbitMQ URL (amqp:// or amqps://).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    http_host: str = Field(default="127.0.0.1", description="Address of the health/metrics port.")
    http_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")
    shutdown_timeout: float = Field(
        default=20.0, gt=0, le=300, description="Seconds to finish in-flight work on SIGTERM."
    )


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment, or exit with one clear line per bad value."""
    try:
        return cls()
    except ValidationError as exc:
        lines = [f"{cls.__module__}: invalid configuration:"]
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]).upper() or "(settings)"
            lines.append(f"  {name}: {error['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None

"""Configuration of the demo upstreams: one typed class, every variable prefixed ``DEMO_``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_STATIONS = 100_000


class DemoSettings(BaseSettings):
    """Settings of the demo upstreams; each field is read from ``DEMO_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=9001, ge=0, le=65535, description="Port of both sources.")
    seed: int = Field(default=1, description="Seed of the generated data (same seed, same data).")
    stations: int = Field(
        default=300,
        ge=0,
        le=MAX_STATIONS,
        description="Catalog size, the 4 contract sample stations included (minimum 4).",
    )
    evolve: bool = Field(default=True, description="Run the background evolution task.")
    price_changes_per_minute: float = Field(
        default=6.0, ge=0, le=6000, description="Mean rate of price-list changes."
    )
    catalog_changes_per_hour: float = Field(
        default=2.0, ge=0, le=36000, description="Mean rate of catalog changes."
    )
    source1_latency: float = Field(
        default=4.0,
        ge=0,
        le=600,
        description="Seconds before Source 1 answers (the original: ~4 s).",
    )
    source2_latency: float = Field(
        default=0.1, ge=0, le=600, description="Seconds before Source 2 answers."
    )
    conditional: bool = Field(
        default=True, description="Send ETag/Last-Modified and answer conditional GETs with 304."
    )
    control: bool = Field(default=True, description="Serve the /_control/ endpoints.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

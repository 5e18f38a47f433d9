"""Settings of the Source 1 (station catalog) ingestor."""

from __future__ import annotations

from fuelhub_common.ingestion.settings import BaseIngestSettings
from pydantic import Field


class Source1Settings(BaseIngestSettings):
    source1_url: str = Field(
        default="http://127.0.0.1:9001/fuel-stations",
        pattern=r"^https?://",
        description="Full URL of Source 1's station list.",
    )
    source1_poll_interval: float = Field(
        default=24 * 3600, gt=0, description="Seconds between polls (a poll also runs at start)."
    )
    source1_snapshot_every: int = Field(
        default=7,
        ge=0,
        description="Publish a full snapshot every N polls (0: only the first after start).",
    )
    http_port: int = Field(default=8011, ge=0, le=65535)
    # Source 1 takes ~4 s per call; leave it room.
    http_timeout: float = Field(default=60.0, gt=0)

    @property
    def source_url(self) -> str:
        return self.source1_url

    @property
    def poll_interval(self) -> float:
        return self.source1_poll_interval

    @property
    def snapshot_every(self) -> int:
        return self.source1_snapshot_every

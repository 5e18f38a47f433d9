"""Settings of the Source 2 (fuel prices) ingestor."""

from __future__ import annotations

from fuelhub_common.ingestion.settings import BaseIngestSettings
from pydantic import Field


class Source2Settings(BaseIngestSettings):
    source2_url: str = Field(
        default="http://127.0.0.1:9001/fuel-prices",
        pattern=r"^https?://",
        description="Full URL of Source 2's price list.",
    )
    source2_poll_interval: float = Field(
        default=300, gt=0, description="Seconds between polls (a poll also runs at start)."
    )
    source2_snapshot_every: int = Field(
        default=12,
        ge=0,
        description="Publish a full snapshot every N polls (0: only the first after start).",
    )
    http_port: int = Field(default=8012, ge=0, le=65535)

    @property
    def source_url(self) -> str:
        return self.source2_url

    @property
    def poll_interval(self) -> float:
        return self.source2_poll_interval

    @property
    def snapshot_every(self) -> int:
        return self.source2_snapshot_every

"""Settings shared by both ingestors; each service adds its own source's names."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field

from fuelhub_common.guard import GuardPolicy
from fuelhub_common.ingestion.fetch import RetryPolicy
from fuelhub_common.ingestion.service import IngestConfig
from fuelhub_common.publishing import DEFAULT_MAX_PART_BYTES
from fuelhub_common.settings import BaseServiceSettings


class BaseIngestSettings(BaseServiceSettings):
    """Polling, validation, guard and publishing knobs common to every ingestor."""

    http_timeout: float = Field(default=30.0, gt=0, description="Seconds per upstream request.")
    http_retries: int = Field(default=4, ge=1, le=20, description="Attempts per poll.")
    http_retry_base_delay: float = Field(default=1.0, ge=0, description="Backoff base, seconds.")
    ingest_max_body_bytes: int = Field(
        default=128 * 1024 * 1024, gt=0, description="A larger upstream body fails the poll."
    )
    guard_max_share: Decimal = Field(
        default=Decimal("0.2"), ge=0, le=1, description="Share of known entities per poll."
    )
    guard_confirmations: int = Field(default=3, ge=1, description="Polls to confirm mass absence.")
    event_max_part_bytes: int = Field(
        default=DEFAULT_MAX_PART_BYTES,
        ge=16 * 1024,
        le=8 * 1024 * 1024,
        description="Change sets are split into parts of at most this many bytes.",
    )
    event_publish_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds to wait for a confirm before retrying."
    )
    fuel_aliases_file: Path | None = Field(
        default=None, description="JSON object of extra fuel-name aliases (name -> canonical)."
    )
    fuel_aliases_url: str | None = Field(
        default=None, description="URL serving the admin's alias map (JSON object), per poll."
    )

    # Each ingestor maps its source's own names (SOURCE1_URL, ...) onto these three.
    @property
    def source_url(self) -> str:
        raise NotImplementedError

    @property
    def poll_interval(self) -> float:
        raise NotImplementedError

    @property
    def snapshot_every(self) -> int:
        raise NotImplementedError

    def ingest_config(self) -> IngestConfig:
        return IngestConfig(
            url=self.source_url,
            poll_interval=self.poll_interval,
            max_body_bytes=self.ingest_max_body_bytes,
            retry=self.retry_policy,
            guard=self.guard_policy,
            snapshot_every=self.snapshot_every,
            max_part_bytes=self.event_max_part_bytes,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.http_retries, base_delay=self.http_retry_base_delay)

    @property
    def guard_policy(self) -> GuardPolicy:
        return GuardPolicy(max_share=self.guard_max_share, confirmations=self.guard_confirmations)

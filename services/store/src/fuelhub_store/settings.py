"""The store's settings (one class, validated at start)."""

from __future__ import annotations

from decimal import Decimal

from fuelhub_common.guard import GuardPolicy
from fuelhub_common.settings import DEFAULT_DATABASE_URL, BaseServiceSettings
from pydantic import Field


class StoreSettings(BaseServiceSettings):
    """Configuration of the store's consumer (``fuelhub-store consume``) and its CLI."""

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        pattern=r"^postgres(ql)?(\+psycopg)?://",
        description="Postgres URL of the fuelhub database.",
    )
    http_port: int = Field(default=8013, ge=0, le=65535, description="Health/metrics port.")
    store_prefetch: int = Field(
        default=4, ge=1, le=100, description="Unacknowledged change sets per consumer."
    )
    store_max_attempts: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Failed attempts after which a message is dead-lettered.",
    )
    store_db_pool_size: int = Field(default=4, ge=1, le=64)
    store_db_retry_max_delay: float = Field(
        default=10.0, gt=0, le=300, description="Longest wait between reconnects to Postgres."
    )
    store_migrate_on_start: bool = Field(
        default=True, description="Apply Alembic migrations when the consumer starts."
    )
    guard_max_share: Decimal = Field(default=Decimal("0.2"), ge=0, le=1)
    guard_confirmations: int = Field(default=3, ge=1, le=100)
    # Outbox relay: publishes applied changes to ``fuelhub.applied``.
    store_relay_enabled: bool = True
    store_relay_batch: int = Field(default=500, ge=1, le=10_000)
    store_relay_interval: float = Field(
        default=0.5, gt=0, le=60, description="Seconds between outbox polls when idle."
    )
    # Retention (days). History is kept longest: it is the only record of past prices.
    history_retention_days: int = Field(default=730, ge=1)
    outbox_retention_days: int = Field(default=30, ge=1)
    inbox_retention_days: int = Field(default=14, ge=1)
    tombstone_retention_days: int = Field(default=30, ge=1)
    parts_retention_hours: int = Field(default=24, ge=1)
    retention_interval: float = Field(
        default=3600.0, gt=0, description="Seconds between retention passes (0 < x)."
    )
    # Test-only fault injection: die (SIGKILL) after a commit, before the ack.
    store_fault_kill_after_commit: bool = False

    def guard_policy(self) -> GuardPolicy:
        return GuardPolicy(max_share=self.guard_max_share, confirmations=self.guard_confirmations)

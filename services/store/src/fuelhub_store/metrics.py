"""The store's Prometheus metrics (served on the health port's /metrics)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)


@dataclass(frozen=True, slots=True)
class StoreMetrics:
    messages: Counter
    """Messages handled, by event type and outcome (applied, duplicate, staged, recorded,
    retried, dead_lettered)."""
    apply_seconds: Histogram
    entities_changed: Counter
    commit_lag_seconds: Histogram
    guard_held: Counter
    outbox_published: Counter
    pruned_rows: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> StoreMetrics:
        return cls(
            messages=Counter(
                "fuelhub_store_messages",
                "Messages handled by the store, by event type and outcome.",
                ["type", "outcome"],
                registry=registry,
            ),
            apply_seconds=Histogram(
                "fuelhub_store_apply_seconds",
                "Time to apply one change set (its transaction, commit included).",
                ["kind"],
                buckets=_DURATION_BUCKETS,
                registry=registry,
            ),
            entities_changed=Counter(
                "fuelhub_store_entities_changed",
                "Effective entity changes applied (kind.op, e.g. station.upsert).",
                ["change"],
                registry=registry,
            ),
            commit_lag_seconds=Histogram(
                "fuelhub_store_event_commit_lag_seconds",
                "From the event's creation (occurred_at) to the commit of its change set.",
                ["kind"],
                buckets=_LAG_BUCKETS,
                registry=registry,
            ),
            guard_held=Counter(
                "fuelhub_store_guard_held_deletions",
                "Deletions the mass-deletion guard held back on snapshots.",
                ["kind"],
                registry=registry,
            ),
            outbox_published=Counter(
                "fuelhub_store_outbox_published",
                "Applied-change events published from the outbox.",
                registry=registry,
            ),
            pruned_rows=Counter(
                "fuelhub_store_pruned_rows",
                "Rows removed by retention, by table.",
                ["table"],
                registry=registry,
            ),
        )

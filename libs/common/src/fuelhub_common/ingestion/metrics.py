"""Prometheus metrics of the ingestors (one process runs one source; labels say which)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

POLLS = Counter("fuelhub_polls_total", "Polls of an upstream by outcome.", ["source", "outcome"])
POLL_DURATION = Histogram(
    "fuelhub_poll_duration_seconds",
    "Time from a poll's start to its change set confirmed.",
    ["source"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),
)
RECORDS = Counter(
    "fuelhub_records_total", "Upstream records by validation result.", ["source", "result"]
)
RECORDS_REJECTED = Counter(
    "fuelhub_records_rejected_total", "Rejected upstream records by reason.", ["source", "reason"]
)
CHANGE_SETS_PUBLISHED = Counter(
    "fuelhub_change_sets_published_total",
    "Change sets confirmed by the broker.",
    ["source", "snapshot"],
)
ENTITIES_PUBLISHED = Counter(
    "fuelhub_entities_published_total", "Entity changes confirmed by the broker.", ["source", "op"]
)
PUBLISH_RETRIES = Counter(
    "fuelhub_publish_retries_total", "Publish attempts not confirmed and retried.", ["source"]
)
DELETIONS_HELD = Gauge(
    "fuelhub_deletions_held", "Deletions the mass-deletion guard holds back now.", ["source"]
)
LAST_SUCCESS = Gauge(
    "fuelhub_last_successful_poll_timestamp_seconds",
    "Unix time of the last poll that succeeded (or found nothing modified).",
    ["source"],
)
TRACKED_ENTITIES = Gauge(
    "fuelhub_tracked_entities", "Entities the ingestor remembers as published.", ["source"]
)

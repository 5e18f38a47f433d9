"""One ingestor's loop: fetch, validate, diff, publish with confirms, remember, wait, repeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any

import httpx

from fuelhub_common.events import PollCompleted, PollOutcome, utcnow
from fuelhub_common.guard import GuardPolicy
from fuelhub_common.ingestion import metrics
from fuelhub_common.ingestion.aliases import AliasProvider
from fuelhub_common.ingestion.changes import MAX_HELD_IDS_REPORTED, ChangePlan, ChangeTracker
from fuelhub_common.ingestion.fetch import FetchError, RetryPolicy, Validators, fetch
from fuelhub_common.ingestion.records import (
    BadBodyError,
    NonFiniteTokensError,
    iter_records,
    iter_records_lenient,
)
from fuelhub_common.ingestion.source import RecordRejectedError, SourceAdapter
from fuelhub_common.logs import event_id_var
from fuelhub_common.normalize import FuelNameNormalizer
from fuelhub_common.publishing import (
    DEFAULT_MAX_PART_BYTES,
    ConfirmedPublisher,
    encode_change_set,
    routing_key_for,
)
from fuelhub_common.topology import RK_POLL_COMPLETED

log = logging.getLogger(__name__)


class Phase(StrEnum):
    IDLE = "idle"
    FETCHING = "fetching"
    PARSING = "parsing"
    PUBLISHING = "publishing"


@dataclass(frozen=True, slots=True)
class IngestConfig:
    url: str
    poll_interval: float
    max_body_bytes: int = 128 * 1024 * 1024
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    guard: GuardPolicy = field(default_factory=GuardPolicy)
    snapshot_every: int = 0
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES


class IngestionService:
    """Polls one upstream on a schedule and publishes what changed."""

    def __init__(
        self,
        *,
        adapter: SourceAdapter,
        config: IngestConfig,
        client: httpx.AsyncClient,
        publisher: ConfirmedPublisher,
        stop: asyncio.Event,
        aliases: AliasProvider | None = None,
    ) -> None:
        self.adapter = adapter
        self.config = config
        self.client = client
        self.stop = stop
        self.aliases = aliases or AliasProvider()
        self.tracker = ChangeTracker(config.guard, snapshot_every=config.snapshot_every)
        self.validators = Validators()
        self.phase = Phase.IDLE
        self._publisher = publisher
        self._source = adapter.source.value

    async def run(self) -> None:
        """Poll now, then every ``poll_interval`` seconds, until ``stop`` is set."""
        while not self.stop.is_set():
            started = asyncio.get_running_loop().time()
            await self.poll_once()
            wait = max(
                0.0, self.config.poll_interval - (asyncio.get_running_loop().time() - started)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=wait)

    async def poll_once(self) -> PollCompleted:
        """One full poll; never raises for upstream or data problems (they become outcomes)."""
        poll_id = uuid.uuid4()
        started_at = utcnow()
        outcome, error, plan = PollOutcome.FAILED, None, None
        try:
            normalizer = await self.aliases.normalizer(self.client)
            self.phase = Phase.FETCHING
            fetched = await fetch(
                self.client,
                self.config.url,
                validators=self.validators,
                max_bytes=self.config.max_body_bytes,
                retry=self.config.retry,
                stop=self.stop,
            )
            try:
                if fetched.body is None:
                    outcome = PollOutcome.NOT_MODIFIED
                else:
                    self.phase = Phase.PARSING
                    plan = await asyncio.to_thread(self._plan, fetched.body, started_at, normalizer)
                    self.phase = Phase.PUBLISHING
                    await self._publish_plan(plan)
                    self.tracker.commit(plan)
                    self.validators = fetched.validators
                    outcome = PollOutcome.SUCCEEDED
            finally:
                fetched.close()
        except (FetchError, BadBodyError) as exc:
            error = str(exc)
            log.warning("poll failed", extra={"source": self._source, "error": error})
        finally:
            self.phase = Phase.IDLE
        event = self._outcome_event(poll_id, started_at, outcome, error, plan)
        self._record_metrics(event, plan)
        self.phase = Phase.PUBLISHING
        try:
            await self._publisher.publish(
                RK_POLL_COMPLETED,
                event.model_dump_json().encode(),
                message_id=event.event_id,
                message_type=event.type,
            )
        finally:
            self.phase = Phase.IDLE
        return event

    def _plan(
        self, body: IO[bytes], observed_at: datetime, normalizer: FuelNameNormalizer
    ) -> ChangePlan:
        try:
            return self._plan_from(iter_records(body), observed_at, normalizer)
        except NonFiniteTokensError:
            log.info("body has NaN/Infinity tokens; re-reading leniently")
            return self._plan_from(iter_records_lenient(body), observed_at, normalizer)

    def _plan_from(
        self, records: Any, observed_at: datetime, normalizer: FuelNameNormalizer
    ) -> ChangePlan:
        builder = self.tracker.begin(observed_at)
        for record in records:
            try:
                entity_id, state = self.adapter.parse(record, normalizer)
            except RecordRejectedError as exc:
                builder.reject(exc.reason, exc.entity_id, exc.detail)
                log.info(
                    "record rejected",
                    extra={
                        "source": self._source,
                        "entity_id": exc.entity_id,
                        "reason": exc.reason,
                        "detail": exc.detail[:200],
                    },
                )
                continue
            builder.accept(entity_id, state)
        return builder.finish()

    async def _publish_plan(self, plan: ChangePlan) -> None:
        if not plan.publishable:
            return
        parts = encode_change_set(
            model=self.adapter.model,
            source=self.adapter.source,
            change_set_id=plan.change_set_id,
            observed_at=plan.observed_at,
            snapshot=plan.snapshot,
            changes=plan.changes,
            kept_ids=plan.kept_ids,
            unidentified_records=plan.unidentified,
            max_part_bytes=self.config.max_part_bytes,
        )
        token = event_id_var.set(str(plan.change_set_id))
        try:
            routing_key = routing_key_for(self.adapter.model)
            retries_before = self._publisher.retries
            for part in parts:
                await self._publisher.publish(
                    routing_key, part.body, message_id=part.event_id, message_type="change_set"
                )
            metrics.PUBLISH_RETRIES.labels(self._source).inc(
                self._publisher.retries - retries_before
            )
            log.info(
                "change set published",
                extra={
                    "source": self._source,
                    "change_set_id": str(plan.change_set_id),
                    "snapshot": plan.snapshot,
                    "parts": len(parts),
                    "upserts": plan.upserts,
                    "deletions": plan.deletions,
                    "held_deletions": len(plan.held),
                    "kept": len(plan.kept_ids),
                    "records_accepted": plan.stats.records_accepted,
                    "records_rejected": plan.stats.records_rejected,
                },
            )
        finally:
            event_id_var.reset(token)

    def _outcome_event(
        self,
        poll_id: uuid.UUID,
        started_at: datetime,
        outcome: PollOutcome,
        error: str | None,
        plan: ChangePlan | None,
    ) -> PollCompleted:
        fields: dict[str, Any] = {}
        if plan is not None:
            stats = plan.stats
            fields = {
                "records_seen": stats.records_seen,
                "records_accepted": stats.records_accepted,
                "records_rejected": stats.records_rejected,
                "rejections_by_reason": dict(stats.rejections),
                "rejection_samples": tuple(stats.samples),
                "change_set_id": plan.change_set_id if plan.publishable else None,
                "snapshot": plan.snapshot,
                "upserts": plan.upserts,
                "deletions": plan.deletions,
                "held_deletions": len(plan.held),
                "held_deletion_ids": tuple(plan.held[:MAX_HELD_IDS_REPORTED]),
            }
        elif outcome is PollOutcome.NOT_MODIFIED:
            fields = {"held_deletions": len(self.tracker.counters)}
        return PollCompleted(
            event_id=poll_id,
            source=self.adapter.source,
            occurred_at=utcnow(),
            poll_id=poll_id,
            started_at=started_at,
            finished_at=utcnow(),
            outcome=outcome,
            error=error,
            **fields,
        )

    def _record_metrics(self, event: PollCompleted, plan: ChangePlan | None) -> None:
        source = self._source
        metrics.POLLS.labels(source, event.outcome.value).inc()
        if event.outcome is not PollOutcome.FAILED:
            metrics.LAST_SUCCESS.labels(source).set(event.finished_at.timestamp())
            metrics.POLL_DURATION.labels(source).observe(
                (event.finished_at - event.started_at).total_seconds()
            )
        if plan is None:
            return
        metrics.RECORDS.labels(source, "accepted").inc(plan.stats.records_accepted)
        metrics.RECORDS.labels(source, "rejected").inc(plan.stats.records_rejected)
        for reason, count in plan.stats.rejections.items():
            metrics.RECORDS_REJECTED.labels(source, reason).inc(count)
        metrics.DELETIONS_HELD.labels(source).set(len(plan.held))
        metrics.TRACKED_ENTITIES.labels(source).set(len(self.tracker.hashes))
        if event.outcome is PollOutcome.SUCCEEDED and plan.publishable:
            metrics.CHANGE_SETS_PUBLISHED.labels(source, str(plan.snapshot).lower()).inc()
            metrics.ENTITIES_PUBLISHED.labels(source, "upsert").inc(plan.upserts)
            metrics.ENTITIES_PUBLISHED.labels(source, "delete").inc(plan.deletions)

"""Handling one incoming event in one transaction: inbox, parts, apply, poll outcomes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from fuelhub_common.events import PollCompleted, PollOutcome
from fuelhub_common.guard import GuardPolicy
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from fuelhub_store.apply import ApplyResult, Checkpoint, apply_change_set, no_checkpoint
from fuelhub_store.changeset import (
    ChangeSetPart,
    Part,
    kind_of,
    merge_parts,
    part_from_model,
    part_from_stored_json,
)
from fuelhub_store.codec import IncomingEvent

log = logging.getLogger(__name__)


class Status(StrEnum):
    APPLIED = "applied"
    """The change set (all its parts) was applied (possibly changing nothing)."""
    DUPLICATE = "duplicate"
    """The message id was applied before: nothing done."""
    STAGED = "staged"
    """A part was stored; the set applies when its last part arrives."""
    RECORDED = "recorded"
    """A poll outcome was recorded."""


@dataclass(frozen=True, slots=True)
class Handled:
    status: Status
    result: ApplyResult | None = None


async def _claim(conn: AsyncConnection, event: IncomingEvent) -> bool:
    """Record the message id in the inbox; False when it was already there (a redelivery)."""
    cur = await conn.execute(
        "INSERT INTO store.inbox (message_id, kind) VALUES (%s, %s)"
        " ON CONFLICT (message_id) DO NOTHING RETURNING 1",
        (event.event_id, event.type),
    )
    return await cur.fetchone() is not None


async def _collect_parts(
    conn: AsyncConnection, part: ChangeSetPart, body: bytes | str
) -> list[Part] | None:
    """Stage ``part``; return every part once the set is complete (and unstage them)."""
    # Parts of one set may reach several consumers at once: serialise them on the set's id.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s::text, 73113))", (part.change_set_id,)
    )
    text = body.decode() if isinstance(body, bytes) else body
    await conn.execute(
        "INSERT INTO store.change_set_parts (change_set_id, part, parts, kind, message_id, body)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (part.change_set_id, part.part, part.parts, kind_of(part), part.event_id, text),
    )
    cur = await conn.execute(
        "SELECT count(*) FROM store.change_set_parts WHERE change_set_id = %s",
        (part.change_set_id,),
    )
    row = await cur.fetchone()
    if row is None or row[0] < part.parts:
        return None
    cur = await conn.execute(
        "DELETE FROM store.change_set_parts WHERE change_set_id = %s RETURNING part, body",
        (part.change_set_id,),
    )
    return [
        part_from_model(part) if number == part.part else part_from_stored_json(stored)
        for number, stored in sorted(await cur.fetchall())
    ]


RECORD_POLL = """
INSERT INTO store.source_status AS ss (
    source, last_poll_at, last_outcome, last_success_at, last_error, last_error_at,
    records_seen, records_accepted, records_rejected, rejections, rejection_samples,
    held_deletions, updated_at)
VALUES (%(source)s, %(finished)s, %(outcome)s, %(success)s, %(error)s, %(error_at)s,
    %(seen)s, %(accepted)s, %(rejected)s, %(rejections)s, %(samples)s, %(held)s, now())
ON CONFLICT (source) DO UPDATE SET
    last_poll_at = excluded.last_poll_at,
    last_outcome = excluded.last_outcome,
    last_success_at = greatest(ss.last_success_at, excluded.last_success_at),
    last_error = CASE WHEN excluded.last_error_at IS NULL THEN ss.last_error
                 ELSE excluded.last_error END,
    last_error_at = coalesce(excluded.last_error_at, ss.last_error_at),
    records_seen = CASE WHEN %(counts)s THEN excluded.records_seen ELSE ss.records_seen END,
    records_accepted = CASE WHEN %(counts)s THEN excluded.records_accepted
                       ELSE ss.records_accepted END,
    records_rejected = CASE WHEN %(counts)s THEN excluded.records_rejected
                       ELSE ss.records_rejected END,
    rejections = CASE WHEN %(counts)s THEN excluded.rejections ELSE ss.rejections END,
    rejection_samples = CASE WHEN %(counts)s THEN excluded.rejection_samples
                        ELSE ss.rejection_samples END,
    held_deletions = CASE WHEN %(counts)s THEN excluded.held_deletions
                     ELSE ss.held_deletions END,
    updated_at = now()
WHERE ss.last_poll_at IS NULL OR ss.last_poll_at < excluded.last_poll_at
"""


async def record_poll(conn: AsyncConnection, event: PollCompleted) -> None:
    """Update the source's status row (an older outcome delivered late changes nothing)."""
    succeeded = event.outcome is not PollOutcome.FAILED
    await conn.execute(
        RECORD_POLL,
        {
            "source": event.source.value,
            "finished": event.finished_at,
            "outcome": event.outcome.value,
            # Data is as of the poll's start: that is when the source was observed.
            "success": event.started_at if succeeded else None,
            "error": event.error,
            "error_at": None if succeeded else event.finished_at,
            "seen": event.records_seen,
            "accepted": event.records_accepted,
            "rejected": event.records_rejected,
            "rejections": Jsonb(event.rejections_by_reason),
            "samples": Jsonb(list(event.rejection_samples)),
            "held": event.held_deletions,
            # A not-modified or failed poll carries no record counts worth showing.
            "counts": event.outcome is PollOutcome.SUCCEEDED,
        },
    )


async def handle(
    conn: AsyncConnection,
    event: IncomingEvent,
    body: bytes | str,
    policy: GuardPolicy,
    *,
    checkpoint: Checkpoint = no_checkpoint,
) -> Handled:
    """Handle one message in one transaction (committed here; rolled back on any error)."""
    async with conn.transaction():
        if not await _claim(conn, event):
            return Handled(Status.DUPLICATE)
        if isinstance(event, PollCompleted):
            await record_poll(conn, event)
            return Handled(Status.RECORDED)
        parts: list[Part] | None = [part_from_model(event)]
        if event.parts > 1:
            parts = await _collect_parts(conn, event, body)
            if parts is None:
                return Handled(Status.STAGED)
        assert parts is not None
        result = await apply_change_set(conn, merge_parts(parts), policy, checkpoint=checkpoint)
        return Handled(Status.APPLIED, result)

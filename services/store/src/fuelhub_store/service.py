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
    InconsistentChangeSetError,
    Part,
    PartHeader,
    PartLoader,
    header_of,
    merge_headers,
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
) -> list[PartHeader] | None:
    """Stage ``part``; once the set is complete, every part's header (their bodies stay staged
    until :func:`_stored_parts` has read them and the set is applied)."""
    # Parts of one set may reach several consumers at once: serialise them on the set's id.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s::text, 73113))", (part.change_set_id,)
    )
    text = body.decode() if isinstance(body, bytes) else body
    header = header_of(part)
    await conn.execute(
        "INSERT INTO store.change_set_parts"
        " (change_set_id, part, parts, kind, message_id, body, header)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (part.change_set_id, part.part, part.parts, header.kind, part.event_id, text,
         header.to_json()),
    )  # fmt: skip
    cur = await conn.execute(
        "SELECT count(*) FROM store.change_set_parts WHERE change_set_id = %s",
        (part.change_set_id,),
    )
    row = await cur.fetchone()
    if row is None or row[0] < part.parts:
        return None
    # A part staged before migration 0008 has no header: it is read from its body.
    cur = await conn.execute(
        "SELECT part, header, CASE WHEN header IS NULL THEN body END"
        " FROM store.change_set_parts WHERE change_set_id = %s ORDER BY part",
        (part.change_set_id,),
    )
    return [
        header if number == part.part
        else PartHeader.from_json(stored) if stored is not None
        else part_from_stored_json(legacy_body).header
        for number, stored, legacy_body in await cur.fetchall()
    ]  # fmt: skip


def _stored_parts(conn: AsyncConnection, last: ChangeSetPart) -> PartLoader:
    """Loads a staged part's rows from its body (``last``, the part in hand, from its model)."""

    async def load(number: int) -> Part:
        if number == last.part:
            return part_from_model(last)
        cur = await conn.execute(
            "SELECT body FROM store.change_set_parts WHERE change_set_id = %s AND part = %s",
            (last.change_set_id, number),
        )
        row = await cur.fetchone()
        if row is None:  # its header was read in this transaction, under the set's lock
            raise InconsistentChangeSetError(f"part {number} of {last.change_set_id} vanished")
        return part_from_stored_json(row[0])

    return load


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
        if event.parts == 1:
            change_set = merge_parts([part_from_model(event)])
        else:
            headers = await _collect_parts(conn, event, body)
            if headers is None:
                return Handled(Status.STAGED)
            change_set = merge_headers(headers, _stored_parts(conn, event))
        result = await apply_change_set(conn, change_set, policy, checkpoint=checkpoint)
        if event.parts > 1:
            await conn.execute(
                "DELETE FROM store.change_set_parts WHERE change_set_id = %s",
                (event.change_set_id,),
            )
        return Handled(Status.APPLIED, result)

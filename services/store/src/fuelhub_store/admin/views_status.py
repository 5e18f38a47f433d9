"""Ingestion status: each source's last poll, and the deletions the guard holds back."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from aio_pika.exceptions import AMQPError
from sqladmin import BaseView, expose
from starlette.requests import Request
from starlette.responses import Response

from fuelhub_store.admin import audit, deadletters
from fuelhub_store.admin.context import admin_context
from fuelhub_store.admin.login import session_user
from fuelhub_store.admin.security import csrf_ok, csrf_token
from fuelhub_store.admin.service import approve_deletions, reject_deletions
from fuelhub_store.approvals import list_held_deletions
from fuelhub_store.changeset import Kind

_HELD = re.compile(r"^(stations|prices):([1-9][0-9]{0,18})$")
MAX_APPROVALS = 10_000
REQUEUE_BATCH = 1000

SOURCE_STATUS = """
SELECT source, last_poll_at, last_outcome, last_success_at, last_error, last_error_at,
    records_seen, records_accepted, records_rejected, rejections, rejection_samples,
    held_deletions
FROM store.source_status ORDER BY source
"""


class StatusView(BaseView):
    name = "Ingestion status"
    icon = "fa-solid fa-heart-pulse"

    @expose("/status/approve", methods=["POST"], identity="status-approve")
    async def approve(self, request: Request) -> Response:
        """Approve (apply at once) or reject (keep, count again) the checked held deletions."""
        form = await request.form(max_fields=MAX_APPROVALS + 2)
        if not csrf_ok(request, form):
            return await self._page(request, error="The form expired; reload and retry.", code=403)
        chosen: dict[Kind, list[int]] = defaultdict(list)
        for value in form.getlist("held"):
            match = _HELD.fullmatch(value) if isinstance(value, str) else None
            if match is None:
                return await self._page(request, error="Malformed selection.", code=400)
            kind: Kind = "stations" if match[1] == "stations" else "prices"
            chosen[kind].append(int(match[2]))
        if not chosen:
            return await self._page(request, error="Select at least one held deletion.", code=400)
        reject = form.get("decision") == "reject"
        decide = reject_deletions if reject else approve_deletions
        count = 0
        async with admin_context(request).pool.connection() as conn:
            for kind, ids in chosen.items():
                count += await decide(conn, kind=kind, entity_ids=ids, actor=session_user(request))
        if reject:
            return await self._page(
                request, message=f"Rejected; {count} entity(ies) kept, their absences forgotten."
            )
        return await self._page(request, message=f"Approved; {count} deletion(s) applied.")

    @expose("/status/requeue", methods=["POST"], identity="status-requeue")
    async def requeue_dead_letters(self, request: Request) -> Response:
        """Move dead-lettered messages back to the store's queue (after a fix)."""
        form = await request.form(max_fields=5)
        if not csrf_ok(request, form):
            return await self._page(request, error="The form expired; reload and retry.", code=403)
        ctx = admin_context(request)
        try:
            moved = await deadletters.requeue(ctx.broker_url, limit=REQUEUE_BATCH)
        except (deadletters.BrokerUnavailableError, AMQPError) as exc:
            return await self._page(request, error=f"RabbitMQ unavailable: {exc}", code=503)
        if moved:
            async with ctx.pool.connection() as conn, conn.transaction():
                await audit.record(
                    conn,
                    actor=session_user(request),
                    action="deadletter.requeue",
                    target_type="dead_letter_queue",
                    target_id=None,
                    before={"messages": [asdict(m) for m in moved]},
                    after={"requeued": len(moved)},
                )
        return await self._page(request, message=f"Re-queued {len(moved)} message(s).")

    @expose("/status", methods=["GET"], identity="status")
    async def status(self, request: Request) -> Response:
        return await self._page(request)

    async def _page(
        self,
        request: Request,
        *,
        error: str | None = None,
        message: str | None = None,
        code: int = 200,
    ) -> Response:
        async with admin_context(request).pool.connection() as conn:
            cur = await conn.execute(SOURCE_STATUS)
            names = [c.name for c in cur.description or ()]
            sources: list[dict[str, Any]] = [
                dict(zip(names, row, strict=True)) for row in await cur.fetchall()
            ]
            held = await list_held_deletions(conn)
        try:
            dead: int | str = await deadletters.waiting(admin_context(request).broker_url)
        except (deadletters.BrokerUnavailableError, AMQPError) as exc:
            dead = f"unknown (RabbitMQ unavailable: {exc})"
        response: Response = await self.templates.TemplateResponse(
            request,
            "fuelhub/status.html",
            {
                "title": "Ingestion status",
                "sources": sources,
                "held": held,
                "dead_letters": dead,
                "error": error,
                "message": message,
                "csrf_token": csrf_token(request),
            },
            status_code=code,
        )
        return response

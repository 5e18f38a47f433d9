"""The audit log: every change made through the admin, in the same transaction as the change."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from fuelhub_store.admin.models import AuditEntry, FuelAlias

# Who is acting in this request; set by the authentication backend once the session is valid.
current_actor: ContextVar[str | None] = ContextVar("fuelhub_admin_actor", default=None)


async def record(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append one audit row (in the caller's transaction)."""
    await conn.execute(
        "INSERT INTO store.admin_audit_log (actor, action, target_type, target_id, before, after)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            actor,
            action,
            target_type,
            target_id,
            None if before is None else Jsonb(before),
            None if after is None else Jsonb(after),
        ),
    )


def _alias_before(alias: FuelAlias) -> dict[str, Any]:
    state = inspect(alias)
    before: dict[str, Any] = {}
    for key in ("alias", "canonical"):
        history = state.attrs[key].history
        before[key] = history.deleted[0] if history.deleted else getattr(alias, key)
    return before


def _audit_flush(session: Session, _context: object, _instances: object) -> None:
    """Adds an audit row for each alias created, changed or deleted in this flush.

    sqladmin writes aliases through its own session; hooking the flush puts the audit row in
    that same transaction, so a change is never committed without its record.
    """
    actor = current_actor.get() or "unknown"
    rows: list[AuditEntry] = []
    for obj in session.new:
        if isinstance(obj, FuelAlias):
            rows.append(_row(actor, "alias.create", obj, None, obj.audit_state()))
    for obj in session.dirty:
        if isinstance(obj, FuelAlias) and session.is_modified(obj):
            before = _alias_before(obj)
            if before != obj.audit_state():
                rows.append(_row(actor, "alias.update", obj, before, obj.audit_state()))
    for obj in session.deleted:
        if isinstance(obj, FuelAlias):
            rows.append(_row(actor, "alias.delete", obj, _alias_before(obj), None))
    session.add_all(rows)


def _row(
    actor: str,
    action: str,
    alias: FuelAlias,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    key = (after or before or {}).get("alias")
    return AuditEntry(
        actor=actor,
        action=action,
        target_type="fuel_alias",
        target_id=str(key) if key is not None else None,
        before=before,
        after=after,
    )


def install_session_audit(session_class: type[Session]) -> None:
    """Audit alias changes made through sessions of ``session_class`` (idempotent)."""
    if not event.contains(session_class, "before_flush", _audit_flush):
        event.listen(session_class, "before_flush", _audit_flush)

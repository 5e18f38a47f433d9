"""Admin tables: the fuel-name alias map and the admin audit log.

Revision ID: 0002_admin
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002_admin"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Spellings no normalisation rule catches (AI-95 -> АИ-95); the ingestors fetch them as JSON.
-- Both sides are stored as fuelhub_common.normalize.fuel_key() spells them.
CREATE TABLE store.fuel_aliases (
    id serial PRIMARY KEY,
    alias text NOT NULL UNIQUE CHECK (length(alias) BETWEEN 1 AND 100),
    canonical text NOT NULL CHECK (length(canonical) BETWEEN 1 AND 100),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (alias <> canonical)
);

-- Every change made through the admin: who, when, what, before/after.
CREATE TABLE store.admin_audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text,
    before jsonb,
    after jsonb
);
CREATE INDEX admin_audit_log_at_idx ON store.admin_audit_log (at);
CREATE INDEX admin_audit_log_actor_idx ON store.admin_audit_log (actor, at);
CREATE INDEX admin_audit_log_target_idx ON store.admin_audit_log (target_type, target_id);
"""

DOWNGRADE = r"""
DROP TABLE store.admin_audit_log, store.fuel_aliases;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

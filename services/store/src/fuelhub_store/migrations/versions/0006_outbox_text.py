"""Outbox payloads stored as ``text``: rendered by concatenation, parsed only when read.

A ``json`` column validates (parses) every value written to it. The store renders the payloads
itself, and a 100,000-station first sync writes 200,000 of them inside the apply transaction;
stored as text, built with ``concat()`` (no ``json_build_object`` spacing either), the price
lists' outbox write went from 3.9 s to 2.8 s (docs/store.md, session 4). The relay and the API's
change feed cast ``payload::json`` when they embed it: a cost paid outside the apply transaction,
once per row read.

Revision ID: 0006_outbox_text
Revises: 0005_lighter_writes
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006_outbox_text"
down_revision = "0005_lighter_writes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE store.outbox ALTER COLUMN payload TYPE text USING payload::text")


def downgrade() -> None:
    op.execute("ALTER TABLE store.outbox ALTER COLUMN payload TYPE json USING payload::json")

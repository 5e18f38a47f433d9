"""Staged parts keep their header (the set's metadata) beside their body.

When a multi-part change set completes, the store checks that its parts belong together from
their headers, then reads and copies the parts' rows one part at a time: a 100,000-station set
no longer has all its rows in the store's memory at once. Without the header it would have to
parse every body once more to learn what the parts say about their set. Parts staged before this
revision have no header: the store reads it from their body (``service._collect_parts``).

Revision ID: 0008_part_headers
Revises: 0007_split_docs
Create Date: 2026-11-27
"""

from alembic import op

revision = "0008_part_headers"
down_revision = "0007_split_docs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE store.change_set_parts ADD COLUMN header text")


def downgrade() -> None:
    op.execute("ALTER TABLE store.change_set_parts DROP COLUMN header")

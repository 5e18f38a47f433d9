"""Alembic environment of the store: its version table lives in schema ``store``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

# Concurrent store processes may start together: one migrates, the others wait for it.
MIGRATION_LOCK_KEY = 73109

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=NullPool)

with engine.connect() as connection:
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
    connection.execute(text("CREATE SCHEMA IF NOT EXISTS store"))
    connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=None,
            version_table_schema="store",
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
        connection.commit()

"""Alembic environment for auth: schema ``auth``, its own version table in that schema."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from fuelhub_auth.models import SCHEMA, Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None

# Serialises concurrent migrators (several replicas starting at once); any constant works.
ADVISORY_LOCK_ID = 0x41555448  # "AUTH"

engine = create_engine(url)
with engine.connect() as connection:
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
    try:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table_schema=SCHEMA,
            include_schemas=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
engine.dispose()

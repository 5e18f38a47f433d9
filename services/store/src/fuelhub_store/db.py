"""Postgres plumbing: URLs, the connection pool and running the Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg) wants it: without SQLAlchemy's ``+psycopg`` driver tag."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1).replace(
        "postgres://", "postgresql://", 1
    )


def sqlalchemy_url(url: str) -> str:
    """The URL as SQLAlchemy wants it, on psycopg 3."""
    return libpq_url(url).replace("postgresql://", "postgresql+psycopg://", 1)


# SQLSTATEs (prefixes) that say "the database cannot do this now", not "this message is bad":
# connection exceptions (08), serialization failures and deadlocks (40), insufficient resources
# such as a full disk or too many connections (53), an operator intervention such as
# pg_terminate_backend or a shutdown (57P), system and I/O errors (58), a lock not available or
# an object in use (55P03, 55006).
TRANSIENT_SQLSTATES = ("08", "40", "53", "57P", "58", "55P03", "55006")


def transient_error(exc: BaseException) -> str | None:
    """Why ``exc`` is worth retrying as it is (a SQLSTATE or ``connection``), or None.

    A connection that broke mid-statement raises an OperationalError without a SQLSTATE.
    """
    if isinstance(exc, PoolTimeout):
        return "connection"
    if not isinstance(exc, psycopg.OperationalError):
        return None
    sqlstate = exc.sqlstate
    if sqlstate is None:
        return "connection"
    return sqlstate if sqlstate.startswith(TRANSIENT_SQLSTATES) else None


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats '%' specially (URL-encoded passwords).
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the ``store`` schema to ``revision`` (blocking; concurrent callers serialise)."""
    command.upgrade(alembic_config(url), revision)


async def configure_session(conn: AsyncConnection) -> None:
    """Session settings every store connection needs (call before any other statement)."""
    # JSON documents and outbox times are rendered in UTC whatever the server's default.
    await conn.execute("SET TIME ZONE 'UTC'")
    # Change sets are staged in temporary tables: with the default 8 MB of temp buffers a large
    # set spills to disk page by page. (Must be set before the session's first temp table.)
    await conn.execute("SET temp_buffers = '128MB'")
    # Large sets are applied with hash joins and sorts; give them memory instead of batches.
    await conn.execute("SET work_mem = '64MB'")
    await conn.commit()


def make_pool(url: str, *, size: int, name: str = "fuelhub-store") -> AsyncConnectionPool:
    """An (unopened) pool; connections are checked on checkout so a restarted Postgres heals."""
    return AsyncConnectionPool(
        libpq_url(url),
        min_size=1,
        max_size=size,
        open=False,
        name=name,
        configure=configure_session,
        check=AsyncConnectionPool.check_connection,
        kwargs={"application_name": name},
        timeout=10.0,
        # Give up background reconnection at once rather than backing off for minutes: demand
        # (the consumer's own retry loop while Postgres is down) starts a fresh attempt.
        reconnect_timeout=0,
    )

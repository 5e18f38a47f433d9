"""The connection pool (the edge to Postgres) and the mapping of its failures to 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from fuelhub_api.errors import DatabaseUnavailableError
from fuelhub_api.service import Connect
from fuelhub_api.settings import Settings

# Errors that mean "the read model cannot be reached now", as opposed to a bug: the database
# is down or restarting, a statement timed out, or the store's schema is not migrated yet.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.errors.UndefinedTable,
    psycopg.errors.InvalidSchemaName,
    psycopg.errors.UndefinedFunction,
    PoolTimeout,
)


def _session_options(settings: Settings) -> str:
    # The API only reads: refuse writes at the session level too, and bound every statement.
    return (
        f"-c statement_timeout={settings.api_statement_timeout_ms}"
        " -c default_transaction_read_only=on -c search_path=store,public -c timezone=UTC"
    )


def make_pool(settings: Settings) -> AsyncConnectionPool[AsyncConnection[Any]]:
    return AsyncConnectionPool(
        settings.database_url,
        min_size=settings.api_pool_min_size,
        max_size=settings.api_pool_max_size,
        kwargs={
            "autocommit": True,
            "options": _session_options(settings),
            "connect_timeout": 3,
            "application_name": "fuelhub-api",
        },
        timeout=3.0,
        reconnect_timeout=0,  # keep trying for ever: the database comes back by itself
        open=False,
        name="fuelhub-api",
    )


async def direct_connection(settings: Settings) -> AsyncConnection[Any]:
    """A connection outside the pool (the watcher's LISTEN connection)."""
    return await AsyncConnection.connect(
        settings.database_url,
        autocommit=True,
        options=_session_options(settings),
        connect_timeout=3,
        application_name="fuelhub-api-watch",
    )


def pool_connector(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> Connect:
    """``connect()`` for the Reader: a pooled connection; unreachable database → 503."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection[Any]]:
        try:
            async with pool.connection() as conn:
                yield conn
        except UNAVAILABLE as exc:
            raise DatabaseUnavailableError(type(exc).__name__) from exc

    return connect

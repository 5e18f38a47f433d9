"""Fixtures of the store's tests: a freshly migrated database per test, and a pool on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from fuelhub_store.db import make_pool, migrate
from psycopg_pool import AsyncConnectionPool


@pytest.fixture
def store_db_url(postgres_database_factory: Callable[[], str]) -> str:
    url = postgres_database_factory()
    migrate(url)
    return url


@pytest.fixture
async def store_pool(store_db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    pool = make_pool(store_db_url, size=2)
    await pool.open()
    yield pool
    await pool.close()

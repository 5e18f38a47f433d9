"""The database misbehaves while the store applies change sets: connections terminated,
serialization failures, deadlocks, a full disk, the server stopped. The store must hold each
message, retry it, and converge — never dead-letter good data, never apply anything twice — and
the API must answer 503 with Retry-After (never 500) while Postgres is away, recovering by itself.

Each test has a database of its own (or a private cluster, for the stop), a fresh virtual host
and a ``fuelhub-store consume`` child process with ``STORE_MAX_ATTEMPTS=2``: a transient error
counted as a failure of the message would dead-letter it after two.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fuelhub_common.testing import PrivatePostgres
from fuelhub_store.db import migrate
from fuelhub_store.testing import StoreProcess

from .faults import (
    History,
    api_on,
    converged,
    dead_letters,
    eventually,
    inbox_holds,
    make_history,
    publish,
    query,
    queue_depth,
    store_queue_counts,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

STORE_ENV = {"STORE_MAX_ATTEMPTS": "2", "STORE_DB_RETRY_MAX_DELAY": "0.5"}


@pytest.fixture
def db_url(postgres_database_factory: Callable[[], str]) -> str:
    url = postgres_database_factory()
    migrate(url)
    return url


@pytest.fixture
def broker_url(rabbitmq_vhost_factory: Callable[[], str]) -> str:
    return rabbitmq_vhost_factory()


@contextlib.contextmanager
def store_process(
    db_url: str, broker_url: str, tmp_path: Path, **env: str
) -> Iterator[StoreProcess]:
    store = StoreProcess(db_url, broker_url, tmp_path, **{**STORE_ENV, **env})
    try:
        store.start()
        yield store
    finally:
        if store.proc is not None and store.proc.poll() is None:
            store.proc.kill()
            store.proc.wait()


async def finished(store: StoreProcess, broker_url: str, db_url: str, history: History) -> None:
    """The store converged, nothing is left queued or dead-lettered, and it stops cleanly."""
    await converged(db_url, history, within=90, log=store.log)
    assert await queue_depth(broker_url) == 0
    assert await dead_letters(broker_url) == 0, store.log.read_text()[-3000:]
    assert 'outcome="dead_lettered"' not in store.metrics()
    assert await asyncio.to_thread(store.stop) == 0


@pytest.mark.slow
async def test_connections_terminated_during_applies(
    db_url: str, broker_url: str, tmp_path: Path
) -> None:
    history = make_history(stations=400, station_sets=8, price_sets=8)
    with store_process(db_url, broker_url, tmp_path) as store:
        await publish(broker_url, history.messages)
        terminated = interrupted = 0
        rng = random.Random(9)
        # Store connections, busy or idle, are terminated at random moments (0.1-0.8 s apart,
        # so applies still get through between them) until every message has been committed
        # or 60 were terminated (pg_terminate_backend: what an operator or a failover does).
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as admin:
            while terminated < 60 and not await asyncio.to_thread(
                inbox_holds, db_url, len(history.messages)
            ):
                cur = await admin.execute(
                    "SELECT state, pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND application_name LIKE 'fuelhub-store%%'"
                )
                rows = await cur.fetchall()
                terminated += len(rows)
                interrupted += sum(1 for state, _ in rows if state != "idle")
                await asyncio.sleep(rng.uniform(0.1, 0.8))
        assert interrupted > 0, "no transaction was interrupted: the test proved nothing"
        await finished(store, broker_url, db_url, history)
    log = store.log.read_text()
    assert "holding the message and retrying" in log


FAULT_TRIGGER = """
CREATE SEQUENCE store.test_fault_calls;
CREATE FUNCTION store.test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A sequence is not rolled back with the failed transaction: it counts attempts.
    IF nextval('store.test_fault_calls') <= {times} THEN
        RAISE EXCEPTION 'injected by the test' USING ERRCODE = '{sqlstate}';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER test_fault AFTER INSERT OR UPDATE ON store.{table}
    FOR EACH STATEMENT EXECUTE FUNCTION store.test_fault();
"""


@pytest.mark.parametrize(
    ("sqlstate", "table"),
    [
        pytest.param("40001", "stations", id="serialization_failure"),
        pytest.param("40P01", "current_prices", id="deadlock_detected"),
        pytest.param("53100", "price_history", id="disk_full"),
    ],
)
async def test_transient_database_errors_are_retried_not_dead_lettered(
    db_url: str, broker_url: str, tmp_path: Path, sqlstate: str, table: str
) -> None:
    history = make_history(stations=20, station_sets=2, price_sets=2, parts=1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(FAULT_TRIGGER.format(times=5, sqlstate=sqlstate, table=table))  # type: ignore[arg-type]
    with store_process(db_url, broker_url, tmp_path) as store:
        await publish(broker_url, history.messages)
        await finished(store, broker_url, db_url, history)
    calls = query(db_url, "SELECT last_value FROM store.test_fault_calls")[0][0]
    assert calls > 5, "the fault never fired"
    log = store.log.read_text()
    assert "transient database error; holding the message and retrying" in log
    assert f'"reason":"{sqlstate}"' in log


async def test_real_deadlock_with_another_transaction(
    db_url: str, broker_url: str, tmp_path: Path
) -> None:
    """A transaction of someone else's locks a station row the store must update, then waits
    for the store's stations lock: Postgres breaks the deadlock by aborting the store's apply."""
    history = make_history(stations=10, station_sets=2, price_sets=0, parts=1)
    with store_process(db_url, broker_url, tmp_path) as store:
        await publish(broker_url, history.sets[0])
        first = make_history(stations=10, station_sets=1, price_sets=0, parts=1)
        await converged(db_url, first, within=30)
        async with await psycopg.AsyncConnection.connect(db_url) as other:
            # The store (waiting first, 1 s deadlock_timeout) finds the cycle and is the victim.
            await other.execute("SET deadlock_timeout = '30s'")
            await other.execute("UPDATE store.stations SET number = number WHERE id = 1")
            await publish(broker_url, history.sets[1])

            async def store_waits_for_the_row() -> bool:
                rows = await asyncio.to_thread(
                    query,
                    db_url,
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name LIKE 'fuelhub-store%%' AND wait_event_type = 'Lock'",
                )
                return bool(rows)

            await eventually(store_waits_for_the_row, 30, "the store blocked on the row")
            await other.execute("SELECT pg_advisory_xact_lock(73111)")  # the stations applier lock
            await other.rollback()
        await finished(store, broker_url, db_url, history)
    log = store.log.read_text()
    assert '"reason":"40P01"' in log, log[-3000:]


@pytest.mark.slow
async def test_postgres_stopped_during_applies(
    private_postgres: PrivatePostgres, broker_url: str, tmp_path: Path
) -> None:
    """A private cluster crashes (``pg_ctl stop -m immediate``) in the middle of the applies
    and comes back 5 s later: the store holds its message and converges; the API answers 503
    with Retry-After meanwhile (never 500) and recovers without a restart."""
    db_url = private_postgres.create_database("fuelhub")
    migrate(db_url)
    history = make_history(stations=300, station_sets=6, price_sets=6)
    with store_process(db_url, broker_url, tmp_path) as store:
        async with api_on(db_url) as get:
            first = make_history(stations=300, station_sets=1, price_sets=1)
            await publish(broker_url, first.messages)
            await converged(db_url, first, within=60, log=store.log)
            assert (await get("/api/v1/fuel-stations?limit=1")).status_code == 200

            await publish(broker_url, history.messages[len(first.messages) :])
            await asyncio.sleep(0.3)  # the store is applying
            await asyncio.to_thread(private_postgres.stop, "immediate")
            down_since = time.monotonic()
            statuses = []
            while time.monotonic() - down_since < 5:
                for path in ("/api/v1/fuel-stations?limit=1", "/api/v2/fuel-stations?limit=3"):
                    response = await get(path)
                    statuses.append(response.status_code)
                    assert response.status_code == 503, response.text
                    assert response.headers["retry-after"]
                await asyncio.sleep(0.5)
            assert "postgres unavailable" in store.log.read_text()
            in_queue = await asyncio.to_thread(store_queue_counts, broker_url)
            assert sum(in_queue) > 0, "everything was applied before the crash"
            await asyncio.to_thread(private_postgres.start)

            await converged(db_url, history, within=120, log=store.log)

            async def api_back() -> bool:
                response = await get("/api/v1/fuel-stations?limit=1")
                return response.status_code == 200

            await eventually(api_back, 30, "the API answers 200 again")
            body = (await get("/api/v1/fuel-stations?limit=1000")).json()
            assert body["count"] == history.stations
            want = history.expected_addresses
            assert {s["id"]: s["address"] for s in body["results"]} == want
        await finished(store, broker_url, db_url, history)

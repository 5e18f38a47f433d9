"""The TCP fault proxy itself (``fuelhub_common.testing.FaultProxy``), between a client and the
shared Postgres: each fault does what the suite relies on it to do."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from fuelhub_common.testing import ADMIN_DATABASE_URL, FaultProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", 5432) as running:
        yield running


def connect(proxy: FaultProxy) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(proxy.url_through(ADMIN_DATABASE_URL), connect_timeout=3)


def timed_select(conn: psycopg.Connection[tuple[object, ...]], sql: str = "SELECT 1") -> float:
    started = time.monotonic()
    conn.execute(sql).fetchall()  # type: ignore[arg-type]
    return time.monotonic() - started


def test_passes_traffic_and_adds_latency(proxy: FaultProxy) -> None:
    with connect(proxy) as conn:
        assert timed_select(conn) < 0.5
        proxy.latency = 0.2  # each way: a round trip costs at least 0.4 s
        assert timed_select(conn) >= 0.4


def test_drip_slows_a_large_answer(proxy: FaultProxy) -> None:
    with connect(proxy) as conn:
        proxy.drip = 20_000  # bytes per second
        assert timed_select(conn, "SELECT repeat('x', 20000)") >= 0.8


def test_cut_refuses_and_start_restores(proxy: FaultProxy) -> None:
    conn = connect(proxy)
    proxy.cut()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        connect(proxy)
    proxy.start()
    with connect(proxy) as again:
        assert timed_select(again) < 1


def test_drop_connections_keeps_listening(proxy: FaultProxy) -> None:
    conn = connect(proxy)
    proxy.drop_connections()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    with connect(proxy) as fresh:
        assert timed_select(fresh) < 1


def test_blackhole_holds_traffic_until_lifted(proxy: FaultProxy) -> None:
    with connect(proxy) as conn:
        proxy.blackhole = True  # half-open: the query goes nowhere, nothing comes back
        answered = threading.Event()

        def query() -> None:
            conn.execute("SELECT 1").fetchall()
            answered.set()

        waiting = threading.Thread(target=query)
        waiting.start()
        assert not answered.wait(1.0), "an answer came through the black hole"
        proxy.blackhole = False  # the link heals: what was held is delivered
        assert answered.wait(10)
        waiting.join()

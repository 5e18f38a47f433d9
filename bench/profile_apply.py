"""Where a first sync's time goes: wall time and backend CPU per SQL statement of the store.

Runs the first sync of ``bench/store_apply.py`` (catalog set, then price set) in a scratch
database and prints, per set, the statements that took longest: wall seconds, the Postgres
backend's CPU seconds (``/proc/<pid>/stat``: the server must be local) and how often each ran.
Statements are named after the module constant holding their SQL (``readmodel.WRITE_FUELS``).

    uv run --frozen python bench/profile_apply.py --stations 100000   # about 1 minute

This VM's speed swings up to 2x within minutes: compare two versions by running them back to
back, several times, interleaved (docs/store.md, "Session 3"). Whole runs only: a statement
re-run inside a rolled-back transaction is slowed by the previous run's dead index entries.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from fuelhub_store import apply, readmodel, service
from fuelhub_store.db import configure_session
from store_apply import Source, scratch_database, timed

TICKS = os.sysconf("SC_CLK_TCK")


def _names() -> dict[str, str]:
    """SQL text -> ``module.CONSTANT`` for every statement the store keeps in a constant."""
    names: dict[str, str] = {}
    for module in (apply, readmodel, service):
        short = module.__name__.rsplit(".", 1)[-1]
        for key, value in vars(module).items():
            if isinstance(value, str) and len(value) > 20:
                names[value] = f"{short}.{key}"
            elif isinstance(value, tuple):
                for i, item in enumerate(value):
                    if isinstance(item, str):
                        names[item] = f"{short}.{key}[{i}]"
    return names


def backend_cpu(pid: int) -> float:
    """User + system CPU seconds of a local process (the connection's backend)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Profile:
    def __init__(self) -> None:
        self.names = _names()
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.count: Counter[str] = Counter()

    def label(self, query: Any) -> str:
        if isinstance(query, str):
            return self.names.get(query) or " ".join(query.split())[:60]
        try:
            return " ".join(query.as_string(None).split())[:60]
        except Exception:  # a Composed that needs a connection to render
            return repr(query)[:60]

    @contextmanager
    def measured(self, name: str, pid: int) -> Iterator[None]:
        """Add the block's wall time and the backend's CPU time to ``name``."""
        wall0, cpu0 = time.perf_counter(), backend_cpu(pid)
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall0
            self.cpu[name] = self.cpu.get(name, 0.0) + backend_cpu(pid) - cpu0
            self.count[name] += 1

    def install(self) -> None:
        """Wrap ``AsyncConnection.execute`` and the store's COPY helper (process-wide)."""
        execute = psycopg.AsyncConnection.execute
        copy = apply._copy
        profile = self

        async def timed_execute(
            conn: psycopg.AsyncConnection[Any], query: Any, params: Any = None, **kw: Any
        ) -> Any:
            with profile.measured(profile.label(query), conn.info.backend_pid):
                return await execute(conn, query, params, **kw)

        async def timed_copy(
            conn: psycopg.AsyncConnection[Any], table: str, types: list[str], rows: Iterable[Any]
        ) -> None:
            with profile.measured(f"COPY {table}", conn.info.backend_pid):
                await copy(conn, table, types, rows)

        psycopg.AsyncConnection.execute = timed_execute  # type: ignore[method-assign,assignment]
        apply._copy = timed_copy

    def report(self, top: int) -> None:
        slowest = sorted(self.wall.items(), key=lambda item: item[1], reverse=True)[:top]
        for name, wall in slowest:
            print(f"  {wall:7.2f}s wall {self.cpu[name]:7.2f}s cpu  x{self.count[name]:<4d} {name}")
        self.wall.clear()
        self.cpu.clear()
        self.count.clear()


async def _profile_set(
    conn: psycopg.AsyncConnection[Any],
    label: str,
    run: Callable[[], Awaitable[tuple[float, float]]],
    profile: Profile,
    top: int,
) -> None:
    pid = conn.info.backend_pid
    cpu0, py0 = backend_cpu(pid), time.process_time()
    total, decoding = await run()
    print(
        f"\n=== {label}: wall {total:.2f}s, decoding {decoding:.2f}s, Python CPU"
        f" {time.process_time() - py0:.2f}s, backend CPU {backend_cpu(pid) - cpu0:.2f}s"
    )
    profile.report(top)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--part-size", type=int, default=2500)
    parser.add_argument("--top", type=int, default=15, help="statements listed per set")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    source = Source(args.stations)
    catalog, prices = source.first_sync(args.part_size)
    with scratch_database(args.admin_url, "fuelhub_profile") as url:
        profile = Profile()
        profile.install()
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await configure_session(conn)
            await conn.commit()
            profile.report(0)  # forget the session setup
            await _profile_set(conn, "catalog set", lambda: timed(conn, catalog), profile, args.top)
            await _profile_set(conn, "price set", lambda: timed(conn, prices), profile, args.top)


if __name__ == "__main__":
    asyncio.run(main())

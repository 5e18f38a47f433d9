"""What the API knows about the read model between requests: its version and freshness.

A watcher task LISTENs on the store's ``fuelhub_applied`` channel and re-reads the version (the
largest applied seq) on every notification and at least every ``refresh_seconds`` (which also
refreshes ``data_as_of`` and covers a lost notification). Pages cached under a version stay
valid until the version moves, so a cache hit costs no query at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg

from fuelhub_api.repository import Snapshot, fetch_snapshot

log = logging.getLogger(__name__)

CHANNEL = "fuelhub_applied"


class ReadModelState:
    """The current version (None while unknown: then every request queries), the freshness
    document, and a wake-up for SSE streams waiting for new changes."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.data_as_of: dict[str, str | None] = {}
        self.freshness_tag = ""
        self._changed = asyncio.Condition()

    async def update(self, snapshot: Snapshot) -> None:
        moved = snapshot.version != self.version
        self.version = snapshot.version
        if snapshot.data_as_of != self.data_as_of:
            self.data_as_of = snapshot.data_as_of
            self.freshness_tag = hashlib.blake2b(
                orjson.dumps(snapshot.data_as_of, option=orjson.OPT_SORT_KEYS), digest_size=6
            ).hexdigest()
            moved = True
        if moved:
            async with self._changed:
                self._changed.notify_all()

    def forget(self) -> None:
        self.version = None

    async def wait_changed(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return when the version or freshness moves, or after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with self._changed:
                await asyncio.wait_for(self._changed.wait(), timeout)

    async def wait_for_version(self, version: int, within: float = 5.0) -> None:
        """Wait until the watcher has seen ``version`` (tests and read-your-writes callers)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.version is None or self.version < version:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"read model version {version} not seen")
            await self.wait_changed(min(remaining, 0.05))


async def watch(
    state: ReadModelState,
    connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]],
    *,
    refresh_seconds: float,
) -> None:
    """Keep ``state`` current until cancelled; reconnect with backoff when the database goes."""
    backoff = 0.2
    while True:
        try:
            conn = await connect()
            async with conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                await state.update(await fetch_snapshot(conn))
                backoff = 0.2
                while True:
                    # Any notification or the timeout: re-read both (cheap, index-only).
                    async for _ in conn.notifies(timeout=refresh_seconds, stop_after=1):
                        pass
                    await state.update(await fetch_snapshot(conn))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is away or the schema is not there yet
            if state.version is not None:
                log.warning("read-model watcher lost the database", extra={"error": repr(exc)})
            state.forget()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


class PageCache:
    """A small LRU of response bodies (and counts) keyed by read-model version and query.

    Entries of older versions can never be hit again, so moving to a new version drops them.
    """

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._version: int | None = None
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, version: int | None, key: tuple[Any, ...]) -> Any | None:
        if version is None or version != self._version:
            return None
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, version: int, key: tuple[Any, ...], value: Any) -> None:
        if self._max == 0:
            return
        if self._version is None or version > self._version:
            self._entries.clear()
            self._version = version
        elif version < self._version:
            return  # a slow request finished after the model moved on
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


def etag_for(version: int, *parts: object) -> str:
    """A strong validator for a body fully determined by the version and the query."""
    digest = hashlib.blake2b(repr((version, *parts)).encode(), digest_size=10).hexdigest()
    return f'"{version:x}-{digest}"'

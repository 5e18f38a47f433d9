"""The read logic: cache by read-model version, one query per miss, bytes assembled unparsed.

I/O comes in as a ``connect`` callable (an async context manager yielding a connection), so the
HTTP layer owns the pool and this module owns no framework.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from fuelhub_api import repository as repo
from fuelhub_api.cursors import Keyset, SyncCursor
from fuelhub_api.errors import CursorGoneError, NotFoundError, ParamError
from fuelhub_api.pages import absolutize_icons, envelope
from fuelhub_api.params import Page, StationFilter
from fuelhub_api.queries import ResolvedFilter
from fuelhub_api.state import PageCache, ReadModelState, etag_for
from fuelhub_api.urls import page_link

Connect = Callable[[], AbstractAsyncContextManager[repo.Conn]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    """A ready response to a cached body: status, raw ASGI headers, the same headers as one
    HTTP/1.1 header block (``name: value\r\n`` lines), and the body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    head: bytes
    body: bytes
    etag: bytes  # as a client sends it back in If-None-Match, most of the time


def _answer(status: int, headers: dict[str, str], body: bytes) -> Answer:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    head = b"".join(b"%s: %s\r\n" % pair for pair in raw)
    return Answer(status, raw, head, body, headers["ETag"].encode("latin-1"))


@dataclass(frozen=True)
class Body:
    content: bytes
    etag: str

    def cache_headers(self) -> dict[str, str]:
        # private: the body depends on the bearer; no-cache: revalidate (cheap 304) every time.
        return {"ETag": self.etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}

    @cached_property
    def answers(self) -> tuple[Answer, Answer]:
        """The ``200`` and the ``304``, built once per body (the fast path sends them as they
        are; the headers are the route's)."""
        common = self.cache_headers()
        full = {**common, "content-type": JSON, "content-length": str(len(self.content))}
        return _answer(200, full, self.content), _answer(304, common, b"")


JSON = "application/json"


@dataclass(frozen=True)
class Request:
    """What a read needs to know about the HTTP request: where links must point."""

    base: str
    path: str


def _iso(value: float | str | None) -> str | None:
    return None if value is None else str(value)


class Reader:
    """One per process; safe for concurrent use in one event loop."""

    def __init__(self, *, state: ReadModelState, cache: PageCache, connect: Connect) -> None:
        self.state = state
        self.cache = cache
        self.connect = connect
        self._flights: dict[tuple[Any, ...], asyncio.Future[Body]] = {}

    # -- cache ---------------------------------------------------------------------------------

    def key(self, *parts: Any, fresh: bool = True) -> tuple[Any, ...]:
        """A cache key; v2 bodies carry ``data_as_of``, so its tag is part of theirs."""
        return (*parts, self.state.freshness_tag) if fresh else parts

    def _cached(self, key: tuple[Any, ...]) -> Body | None:
        hit = self.cache.get(self.state.version, key)
        return hit if isinstance(hit, Body) else None

    async def _once(self, key: tuple[Any, ...], build: Callable[[], Awaitable[Body]]) -> Body:
        """The cached body, or one build shared by every concurrent request for ``key``.

        When the read model moves, every client's next request misses at once; without this,
        each would run the same query (a stampede that saturates the pool).
        """
        hit = self._cached(key)
        if hit is not None:
            return hit
        flight = (self.state.version, key)
        pending = self._flights.get(flight)
        if pending is None:
            pending = asyncio.ensure_future(build())
            # Retrieve the outcome even if every waiter went away (no "never retrieved").
            pending.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._flights[flight] = pending
            pending.add_done_callback(lambda _: self._flights.pop(flight, None))
        # shield: one client disconnecting must not cancel the build the others wait for.
        return await asyncio.shield(pending)

    def _store(self, version: int, key: tuple[Any, ...], content: bytes) -> Body:
        body = Body(content, etag_for(version, *key))
        self.cache.put(version, key, body)
        return body

    # -- v1 ------------------------------------------------------------------------------------

    def v1_key(self, page: Page, req: Request) -> tuple[Any, ...]:
        return self.key("v1", req.base, req.path, page.limit, page.offset, fresh=False)

    def v2_key(self, f: StationFilter, req: Request) -> tuple[Any, ...]:
        if f.since is not None:
            return self.key("delta", req.base, req.path, f.since, f.limit)
        return self.key("v2", req.base, req.path, f)

    def cached(self, key: tuple[Any, ...]) -> Body | None:
        """The body for ``key`` at the current version, if cached (no I/O)."""
        return self._cached(key)

    async def v1_page(self, page: Page, req: Request) -> Body:
        return await self._once(self.v1_key(page, req), lambda: self._v1_page(page, req))

    async def _v1_page(self, page: Page, req: Request) -> Body:
        key = self.v1_key(page, req)
        hit = self._cached(key)
        if hit is not None:
            return hit
        known = self.state.version
        count = self.cache.get(known, ("v1count",))
        async with self.connect() as conn:
            version, fetched, docs = await repo.fetch_v1_page(
                conn, limit=page.limit, offset=page.offset, with_count=count is None
            )
            if fetched is None and version != known:  # the cached count is of another version
                version, fetched, docs = await repo.fetch_v1_page(
                    conn, limit=page.limit, offset=page.offset, with_count=True
                )
        if fetched is not None:
            count = fetched
            self.cache.put(version, ("v1count",), count)
        assert isinstance(count, int)
        nxt = None
        if page.offset + page.limit < count:
            nxt = page_link(
                req.base, req.path, [("limit", page.limit), ("offset", page.offset + page.limit)]
            )
        prev = None
        if page.offset > 0:
            params: list[tuple[str, str | int]] = [("limit", page.limit)]
            if page.offset - page.limit > 0:
                params.append(("offset", page.offset - page.limit))
            prev = page_link(req.base, req.path, params)
        content = envelope({"count": count, "next": nxt, "previous": prev}, docs, req.base)
        return self._store(version, key, content)

    # -- catalog -------------------------------------------------------------------------------

    async def _catalog(self, table: str) -> list[repo.CatalogEntry]:
        key = ("catalog", table)
        hit = self.cache.get(self.state.version, key)
        if isinstance(hit, list):
            return hit
        async with self.connect() as conn:
            entries = await repo.fetch_catalog(conn, table)
        if self.state.version is not None:
            self.cache.put(self.state.version, key, entries)
        return entries

    async def resolve(self, table: str, raw: str, label: str) -> int:
        """A fuel type or service by id or (case-insensitive) name; unknown ones are a 400."""
        entries = await self._catalog(table)
        if raw.isascii() and raw.isdigit():
            wanted = int(raw)
            if any(e.id == wanted for e in entries):
                return wanted
        folded = raw.casefold()
        for entry in entries:
            if entry.name.casefold() == folded or entry.source_name.casefold() == folded:
                return entry.id
        listing = "fuel-types" if table == "fuel_types" else "services"
        raise ParamError(f"unknown {label} {raw[:100]!r}: see /api/v2/{listing} for ids and names")

    async def catalog_body(self, table: str, req: Request) -> Body:
        key = self.key("catalog-body", table, req.base)
        hit = self._cached(key)
        if hit is not None:
            return hit
        entries = await self._catalog(table)
        results = b",".join(
            orjson.dumps({"id": e.id, "name": e.name, "icon": e.icon}) for e in entries
        )
        content = envelope({"data_as_of": self.state.data_as_of}, results, req.base)
        return self._store(self.state.version or 0, key, content)

    # -- v2 lists ------------------------------------------------------------------------------

    async def _resolved(self, f: StationFilter) -> ResolvedFilter:
        fuel_id = None if f.fuel is None else await self.resolve("fuel_types", f.fuel, "fuel")
        services = tuple(sorted({await self.resolve("services", s, "service") for s in f.services}))
        return ResolvedFilter(f, fuel_id, services)

    async def v2_list(self, f: StationFilter, req: Request) -> Body:
        return await self._once(self.v2_key(f, req), lambda: self._v2_list(f, req))

    async def _v2_list(self, f: StationFilter, req: Request) -> Body:
        if f.since is not None:
            return await self._delta(f.since, f.limit, req)
        key = self.v2_key(f, req)
        hit = self._cached(key)
        if hit is not None:
            return hit
        q = await self._resolved(f)
        count_key = ("v2count", dataclasses.replace(f, after=None, limit=0))
        async with self.connect() as conn:
            version, rows = await repo.fetch_station_list(conn, q)
            count = self.cache.get(version, count_key)
            if not isinstance(count, int):
                count = await repo.count_stations(conn, q)
                self.cache.put(version, count_key, count)
        more = len(rows) > f.limit
        rows = rows[: f.limit]
        nxt = None
        if more:
            last = rows[-1]
            after = Keyset(
                f.sort,
                last.station_id,
                number=last.number,
                currency=last.currency,
                price=last.price,
                distance=last.distance_m,
            )
            nxt = page_link(req.base, req.path, [*link_params(f), ("after", after.text())])
        fields = {
            "count": count,
            "next": nxt,
            "sync": SyncCursor(version).text(),
            "data_as_of": self.state.data_as_of,
        }
        content = envelope(fields, b",".join(r.doc for r in rows), req.base)
        return self._store(version, key, content)

    async def _delta(self, since: SyncCursor, limit: int, req: Request) -> Body:
        key = self.v2_key(StationFilter(limit=limit, since=since), req)
        hit = self._cached(key)
        if hit is not None:
            return hit
        async with self.connect() as conn:
            bounds, rows = await repo.fetch_delta(conn, since, limit)
        upto = bounds.upto
        if since.seq > upto:
            raise CursorGoneError(
                "this sync cursor is ahead of the feed (the data was reset): sync from scratch"
            )
        if bounds.lost(since.after_seq()):
            raise CursorGoneError(
                "this sync cursor is older than the retained change feed: list the stations "
                "again (without since=) and sync from the new cursor"
            )
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = None
        if more:
            cursor = SyncCursor(rows[-1].seq, rows[-1].station_id)
            nxt = page_link(req.base, req.path, [("since", cursor.text()), ("limit", limit)])
        else:
            cursor = SyncCursor(upto)
        fields = {
            "count": None,
            "next": nxt,
            "sync": cursor.text(),
            "data_as_of": self.state.data_as_of,
        }
        content = envelope(fields, b",".join(r.doc for r in rows), req.base)
        return self._store(upto, key, content)

    async def station(self, station_id: int, req: Request) -> Body:
        key = self.key("station", req.base, station_id)
        return await self._once(key, lambda: self._station(station_id, req))

    async def _station(self, station_id: int, req: Request) -> Body:
        key = self.key("station", req.base, station_id)
        hit = self._cached(key)
        if hit is not None:
            return hit
        async with self.connect() as conn:
            version, doc = await repo.fetch_station(conn, station_id)
        if doc is None:
            raise NotFoundError(f"no station with id {station_id}")
        head = orjson.dumps(
            {"sync": SyncCursor(version).text(), "data_as_of": self.state.data_as_of}
        )
        content = absolutize_icons(head[:-1] + b',"station":' + doc + b"}", req.base)
        return self._store(version, key, content)

    async def price_history(
        self,
        station_id: int,
        *,
        fuel: str | None,
        since: datetime | None,
        after: str | None,
        limit: int,
        req: Request,
    ) -> Body:
        position = parse_history_after(after) if after is not None else None
        key = self.key("history", req.base, station_id, fuel, since, position, limit)
        hit = self._cached(key)
        if hit is not None:
            return hit
        fuel_id = None if fuel is None else await self.resolve("fuel_types", fuel, "fuel")
        version = self.state.version
        async with self.connect() as conn:
            if version is None:
                version = (await repo.fetch_snapshot(conn)).version
            known, rows = await repo.fetch_price_history(
                conn,
                station_id=station_id,
                fuel_id=fuel_id,
                since=since,
                after=position,
                limit=limit,
            )
        if not known:
            raise NotFoundError(f"no station with id {station_id}")
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = None
        if more:
            params: list[tuple[str, str | int]] = [("limit", limit)]
            if fuel is not None:
                params.append(("fuel", fuel))
            if since is not None:
                params.append(("since", since.isoformat()))
            params.append(("after", history_after(rows[-1][0], rows[-1][1])))
            nxt = page_link(req.base, req.path, params)
        fields = {
            "station_id": station_id,
            "next": nxt,
            "data_as_of": self.state.data_as_of,
        }
        content = envelope(fields, b",".join(r[2] for r in rows), req.base)
        return self._store(version, key, content)


def link_params(f: StationFilter) -> list[tuple[str, str | int]]:
    """The canonical query of a list (without its keyset position), for ``next`` links."""
    out: list[tuple[str, str | int]] = [("limit", f.limit)]
    if f.fuel is not None:
        out.append(("fuel", f.fuel))
    out.extend(("service", s) for s in f.services)
    if f.bbox is not None:
        b = f.bbox
        out.append(("bbox", f"{b.min_lat!r},{b.min_lon!r},{b.max_lat!r},{b.max_lon!r}"))
    if f.near is not None:
        out.append(("near", f"{f.near.lat!r},{f.near.lon!r}"))
        out.append(("radius_km", repr(f.radius_km)))
    if f.currency is not None:
        out.append(("currency", f.currency))
    if f.sort != "id":
        out.append(("sort", f.sort))
    if f.updated_since is not None:
        out.append(("updated_since", f.updated_since.isoformat()))
    return out


def history_after(observed_at: datetime, fuel_type_id: int) -> str:
    micros = (observed_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{fuel_type_id}"


def parse_history_after(raw: str) -> tuple[datetime, int]:
    micros, _, fuel = raw.partition(".")
    try:
        if len(raw) > 40 or not fuel.isdigit() or not micros.lstrip("-").isdigit():
            raise ValueError(raw)
        return _EPOCH + timedelta(microseconds=int(micros)), int(fuel)
    except (ValueError, OverflowError):
        raise ParamError("after must be the position from a price-history `next` link") from None

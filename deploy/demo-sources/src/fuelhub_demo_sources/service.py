"""The demo upstreams' behaviour: data, knobs and faults, turned into replies. No framework, no
sleeping and no sockets: the FastAPI app is a thin adapter over :class:`DemoService`."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .conditional import http_date, is_not_modified
from .evolution import Change, StepKind, evolve, poisson
from .faults import (
    NOT_JSON_BODY,
    BodyFault,
    BodyKind,
    Endpoint,
    ErrorFault,
    HugeBody,
    MalformedFault,
    ServedFaults,
    corrupt_pieces,
    drop_share,
    object_body,
)
from .model import DemoState, PriceList, Station
from .render import PieceCache, Record, etag_of, join_array, price_record, station_record
from .seed import build_seed_state
from .settings import DemoSettings

Clock = Callable[[], datetime]
JSON = "application/json"


@dataclass(slots=True)
class Reply:
    """An HTTP response, described; ``cut_after`` means: send that many bytes, then hang up."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterator[bytes] = b""
    media_type: str = JSON
    cut_after: int | None = None


@dataclass(frozen=True, slots=True)
class RenderedBody:
    version: int
    body: bytes
    etag: str
    last_modified: datetime


@dataclass(slots=True)
class Faults:
    """Faults switched on for one endpoint."""

    error: ErrorFault | None = None
    malformed: MalformedFault | None = None
    body: BodyFault | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "errors": _fields(self.error),
            "malformed": _fields(self.malformed),
            "body": _fields(self.body),
        }


@dataclass(slots=True)
class Evolution:
    enabled: bool
    price_changes_per_minute: float
    catalog_changes_per_hour: float
    steps: int = 0


class DemoService:
    """Both sources: their evolving data, latency, conditional GET and injected faults.

    Every method runs on the event loop's thread, so no locks are needed.
    """

    def __init__(self, settings: DemoSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.reset(self.seed_state())

    # --- state -----------------------------------------------------------------------------

    def seed_state(self) -> DemoState:
        """A fresh seed state (slow at 100,000 stations: callers may build it off the loop)."""
        return build_seed_state(self.settings.seed, self.settings.stations, self.clock())

    def reset(self, state: DemoState) -> None:
        """Install ``state`` and put every knob back to its setting, every fault off."""
        s = self.settings
        self.state = state
        self.rng = random.Random(s.seed)
        self.latency: dict[Endpoint, float] = {
            "stations": s.source1_latency,
            "prices": s.source2_latency,
        }
        self.conditional = s.conditional
        self.evolution = Evolution(s.evolve, s.price_changes_per_minute, s.catalog_changes_per_hour)
        self.faults: dict[Endpoint, Faults] = {"stations": Faults(), "prices": Faults()}
        self.served: dict[Endpoint, Counter[int]] = {"stations": Counter(), "prices": Counter()}
        self.last_faults: dict[Endpoint, ServedFaults] = {
            "stations": ServedFaults(),
            "prices": ServedFaults(),
        }
        self._rendered: dict[Endpoint, RenderedBody | None] = {"stations": None, "prices": None}
        self._stations_cache = PieceCache[Station](station_record)
        self._prices_cache = PieceCache[PriceList](price_record)
        # Render now, once, so the first request does not pay for 100,000 records.
        self.rendered("stations")
        self.rendered("prices")
        # Seeded too: with a fixed sequence of requests, rate-based errors are reproducible.
        self._error_rng = random.Random(s.seed + 1)

    def evolve_step(self, kind: StepKind | None = None) -> Change:
        ev = self.evolution
        total = ev.price_changes_per_minute * 60 + ev.catalog_changes_per_hour
        probability = ev.catalog_changes_per_hour / total if total else 0.0
        change = evolve(
            self.state, self.rng, self.clock(), kind=kind, catalog_probability=probability
        )
        ev.steps += 1
        return change

    def evolve_for(self, seconds: float) -> list[Change]:
        """The changes due in ``seconds`` of wall time at the configured rates (the ticker)."""
        ev = self.evolution
        if not ev.enabled:
            return []
        prices = poisson(self.rng, ev.price_changes_per_minute / 60 * seconds)
        catalog = poisson(self.rng, ev.catalog_changes_per_hour / 3600 * seconds)
        return [self.evolve_step("prices") for _ in range(prices)] + [
            self.evolve_step("catalog") for _ in range(catalog)
        ]

    def put_station(self, station: Station) -> None:
        self.state.put_station(station, self.clock())

    def remove_station(self, station_id: int) -> bool:
        return self.state.remove_station(station_id, self.clock())

    def put_prices(self, station_id: int, prices: PriceList) -> None:
        self.state.put_prices(station_id, prices, self.clock())

    def remove_prices(self, station_id: int) -> bool:
        return self.state.remove_prices(station_id, self.clock())

    # --- serving ---------------------------------------------------------------------------

    def respond(
        self,
        endpoint: Endpoint,
        *,
        if_none_match: str | None = None,
        if_modified_since: str | None = None,
    ) -> Reply:
        """The reply to ``GET`` of one source, after faults and conditional GET are applied."""
        reply = self._reply(endpoint, if_none_match, if_modified_since)
        self.served[endpoint][reply.status] += 1
        return reply

    def _reply(
        self, endpoint: Endpoint, if_none_match: str | None, if_modified_since: str | None
    ) -> Reply:
        faults = self.faults[endpoint]
        error = self._take_error(faults)
        if error is not None:
            return error
        if faults.body is not None or faults.malformed is not None:
            reply = self._faulty(endpoint, faults)
            # Tells a test what this very response carried (also in GET /_control/state).
            reply.headers["X-Demo-Faults"] = self.last_faults[endpoint].header()
            return reply
        self.last_faults[endpoint] = ServedFaults()
        rendered = self.rendered(endpoint)
        if not self.conditional:
            return Reply(200, body=rendered.body)
        headers = {
            "ETag": rendered.etag,
            "Last-Modified": http_date(rendered.last_modified),
            "Cache-Control": "no-cache",
        }
        if is_not_modified(
            etag=rendered.etag,
            last_modified=rendered.last_modified,
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
        ):
            return Reply(304, headers=headers)
        return Reply(200, headers=headers, body=rendered.body)

    def rendered(self, endpoint: Endpoint) -> RenderedBody:
        """The clean body, rendered again only when that source's data has changed."""
        version, modified = self._version(endpoint)
        cached = self._rendered[endpoint]
        if cached is None or cached.version != version:
            body = join_array(self._pieces(endpoint)[1])
            cached = RenderedBody(version, body, etag_of(body), modified)
            self._rendered[endpoint] = cached
        return cached

    def _pieces(self, endpoint: Endpoint) -> tuple[list[int], list[bytes]]:
        """Ids and rendered records of one source, in body order, brought up to date."""
        st = self.state
        cache: PieceCache[Station] | PieceCache[PriceList]
        if endpoint == "stations":
            self._stations_cache.refresh(st.stations, st.dirty_stations)
            cache = self._stations_cache
        else:
            self._prices_cache.refresh(st.prices, st.dirty_prices)
            cache = self._prices_cache
        return cache.ids, cache.pieces()

    def record(self, endpoint: Endpoint, station_id: int) -> Record:
        if endpoint == "stations":
            return station_record(station_id, self.state.stations[station_id])
        return price_record(station_id, self.state.prices[station_id])

    def _version(self, endpoint: Endpoint) -> tuple[int, datetime]:
        st = self.state
        if endpoint == "stations":
            return st.stations_version, st.stations_modified
        return st.prices_version, st.prices_modified

    def _take_error(self, faults: Faults) -> Reply | None:
        error = faults.error
        if error is None:
            return None
        if error.count is not None:
            error.count -= 1
            if error.count <= 0:
                faults.error = None
        elif self._error_rng.random() >= error.rate:
            return None
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
        body = b'{"detail":"demo fault: status %d"}' % error.status
        return Reply(error.status, headers=headers, body=body)

    def _faulty(self, endpoint: Endpoint, faults: Faults) -> Reply:
        # Faulty bodies carry no validators: a 304 must never hide a fault a test asked for.
        body_fault, malformed = faults.body, faults.malformed
        served = ServedFaults(body=body_fault.kind if body_fault else None)
        self.last_faults[endpoint] = served
        for name in ("body", "malformed"):
            fault = getattr(faults, name)
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    setattr(faults, name, None)
        seed = f"{self.settings.seed}:{endpoint}"
        if body_fault is not None and body_fault.kind is BodyKind.NOT_JSON:
            return Reply(200, body=NOT_JSON_BODY, media_type="text/html")
        if body_fault is not None and body_fault.kind is BodyKind.EMPTY:
            return Reply(200, body=b"[]")
        ids, pieces = self._pieces(endpoint)
        if body_fault is not None and body_fault.kind is BodyKind.HUGE:
            size = int(body_fault.size_mb * 1_000_000)
            template = self.record(endpoint, ids[0]) if ids else {"id": 0}
            huge = HugeBody(template, size)
            headers = {"Content-Length": str(len(huge))} if body_fault.declare_length else {}
            return Reply(200, headers=headers, body=iter(huge))
        if body_fault is not None and body_fault.kind is BodyKind.TRUNCATED:
            ids, pieces, served.dropped = drop_share(
                ids, pieces, body_fault.drop, random.Random(seed + ":drop")
            )
        if malformed is not None:
            pieces, served.malformed = corrupt_pieces(
                ids,
                pieces,
                lambda i: self.record(endpoint, i),
                malformed,
                random.Random(seed + ":malformed"),
            )
        if body_fault is not None and body_fault.kind is BodyKind.OBJECT:
            return Reply(200, body=object_body(pieces))
        body = join_array(pieces)
        if body_fault is not None and body_fault.kind is BodyKind.CUT:
            return Reply(
                200,
                headers={"Content-Length": str(len(body))},
                body=body,
                cut_after=len(body) // 2,
            )
        return Reply(200, body=body)

    # --- reporting -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts and knobs, for ``GET /_control/state``."""
        st = self.state
        return {
            "seed": self.settings.seed,
            "stations": len(st.stations),
            "price_lists": len(st.prices),
            "fuel_prices": sum(len(p) for p in st.prices.values()),
            "stations_version": st.stations_version,
            "prices_version": st.prices_version,
            "stations_modified": http_date(st.stations_modified),
            "prices_modified": http_date(st.prices_modified),
            "next_id": st.next_id,
            "evolution": _fields(self.evolution),
            "latency": dict(self.latency),
            "conditional": self.conditional,
            "faults": {e: f.describe() for e, f in self.faults.items()},
            "served": {e: {str(k): v for k, v in c.items()} for e, c in self.served.items()},
            "last_faults": {
                e: {
                    "body": f.body.value if f.body else None,
                    "dropped": f.dropped,
                    "malformed": [{"id": i, "kind": k.value} for i, k in f.malformed[:1000]],
                }
                for e, f in self.last_faults.items()
            },
        }


def _fields(obj: object) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {
        name: getattr(obj, name).value
        if hasattr(getattr(obj, name), "value")
        else getattr(obj, name)
        for name in obj.__slots__  # type: ignore[attr-defined]
    }

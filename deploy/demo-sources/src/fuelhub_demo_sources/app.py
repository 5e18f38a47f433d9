"""The FastAPI app: a thin adapter from HTTP to :class:`DemoService`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response, StreamingResponse

from .control import router as control_router
from .faults import Endpoint
from .service import DemoService, Reply
from .settings import DemoSettings

log = logging.getLogger("fuelhub_demo_sources")

EVOLUTION_TICK = 0.5  # seconds; fine enough for rates up to many changes a second


class ConnectionCutError(Exception):
    """Raised mid-body so the server drops the connection (the ``cut`` body fault)."""


def create_app(settings: DemoSettings | None = None) -> FastAPI:
    """The demo upstreams' app; its data is built here (slow at 100,000 stations)."""
    settings = settings or DemoSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_evolve_forever(app), name="demo-evolution")
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    app = FastAPI(title="fuelhub demo upstreams", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.service = DemoService(settings)

    @app.get("/fuel-stations", summary="Source 1: the station catalog")
    async def fuel_stations(
        request: Request,
        if_none_match: Annotated[str | None, Header()] = None,
        if_modified_since: Annotated[str | None, Header()] = None,
    ) -> Response:
        return await _serve(request, "stations", if_none_match, if_modified_since)

    @app.get("/fuel-prices", summary="Source 2: price lists")
    async def fuel_prices(
        request: Request,
        if_none_match: Annotated[str | None, Header()] = None,
        if_modified_since: Annotated[str | None, Header()] = None,
    ) -> Response:
        return await _serve(request, "prices", if_none_match, if_modified_since)

    if settings.control:
        app.include_router(control_router)
    return app


async def _serve(
    request: Request,
    endpoint: Endpoint,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> Response:
    service: DemoService = request.app.state.service
    delay = service.latency[endpoint]
    if delay > 0:
        await asyncio.sleep(delay)
    # The service may have been replaced by a reset while we slept.
    service = request.app.state.service
    reply = service.respond(
        endpoint, if_none_match=if_none_match, if_modified_since=if_modified_since
    )
    return to_response(reply)


def to_response(reply: Reply) -> Response:
    if reply.status == 304:
        return Response(status_code=304, headers=reply.headers)
    if isinstance(reply.body, bytes) and reply.cut_after is None:
        return Response(
            reply.body, status_code=reply.status, headers=reply.headers, media_type=reply.media_type
        )
    body = _cut(reply.body, reply.cut_after) if isinstance(reply.body, bytes) else reply.body
    return StreamingResponse(
        body, status_code=reply.status, headers=reply.headers, media_type=reply.media_type
    )


def _cut(body: bytes, after: int | None) -> Iterator[bytes]:
    yield body[:after]
    raise ConnectionCutError("demo fault: connection cut half-way through the body")


async def _evolve_forever(app: FastAPI) -> None:
    last = time.monotonic()
    while True:
        await asyncio.sleep(EVOLUTION_TICK)
        now = time.monotonic()
        service: DemoService = app.state.service
        try:
            changes = service.evolve_for(now - last)
        except Exception:
            # A bug in one step must not stop the upstream from changing for the rest of a run.
            log.exception("evolution step failed")
            changes = []
        last = now
        for change in changes:
            log.debug("evolved: %s %s", change.kind, change.station_id)

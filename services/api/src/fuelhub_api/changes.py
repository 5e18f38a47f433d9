"""Push: ``GET /api/v2/changes``, Server-Sent Events of applied changes from the outbox.

Event ids are sync cursors (the same positions as a list's ``sync``), so a client resumes with
``Last-Event-ID`` (or ``since=``) after a disconnect and misses nothing. The stream holds no
database connection while idle: it wakes on the read-model watcher's notification.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from fuelhub_api import repository as repo
from fuelhub_api.cursors import SyncCursor, parse_sync_cursor
from fuelhub_api.deps import (
    BBOX_SCHEMA,
    SYNC_SCHEMA,
    ReaderClaims,
    ServicesDep,
    openapi_params,
    query_param,
    query_single,
)
from fuelhub_api.errors import CursorGoneError, DatabaseUnavailableError, ParamError
from fuelhub_api.params import BBox, parse_bbox, parse_station_id
from fuelhub_api.responses import ERRORS
from fuelhub_api.schemas import Error
from fuelhub_api.service import Connect
from fuelhub_api.state import ReadModelState

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v2", tags=["v2"])

BATCH = 500
MAX_STATIONS = 1000


def sse_event(row: repo.FeedRow) -> bytes:
    """One SSE frame; the JSON text is one line (row_to_json escapes newlines in strings)."""
    data = row.data.replace(b"\n", b" ")
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (
        SyncCursor(row.seq).text().encode(),
        row.kind.encode(),
        data,
    )


async def change_stream(
    *,
    state: ReadModelState,
    connect: Connect,
    start: int,
    station_ids: tuple[int, ...],
    bbox: BBox | None,
    heartbeat: float,
) -> AsyncIterator[bytes]:
    """Frames for every change after ``start``, then for new ones as they are applied."""
    yield b"retry: 3000\n\n"
    position = start
    while True:
        known = state.version
        try:
            async with connect() as conn:
                rows = await repo.fetch_feed(
                    conn, after_seq=position, limit=BATCH, station_ids=station_ids, bbox=bbox
                )
        except DatabaseUnavailableError:
            log.info("change stream ended: database unavailable")
            return
        for row in rows:
            yield sse_event(row)
            position = row.seq
        if len(rows) == BATCH:
            continue
        # Everything up to the version seen before the query is committed and was scanned:
        # skip past what the filters left out, so it is not scanned again.
        if known is not None and known > position:
            position = known
        if state.version is not None and state.version > position:
            continue
        await state.wait_changed(heartbeat)
        if state.version is None or state.version <= position:
            yield b": keep-alive\n\n"


def parse_station_ids(raw: str) -> tuple[int, ...]:
    parts = [p for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > MAX_STATIONS:
        raise ParamError(f"stations must list 1 to {MAX_STATIONS} comma-separated station ids")
    return tuple(sorted({parse_station_id(p.strip()) for p in parts}))


@router.get(
    "/changes",
    operation_id="v2_changes_stream",
    summary="Server-Sent Events of applied changes (resumable)",
    description=(
        "A `text/event-stream`: each event is one applied change (`id` = sync cursor, `event` "
        "= its kind, `data` = JSON). Reconnect with `Last-Event-ID` (browsers do this "
        "themselves) or `since=` to resume without a gap. Without either, the stream starts "
        "at the present. Comments (`: keep-alive`) are sent while idle."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "An endless event stream.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        410: {"model": Error, "description": "The resume position cannot be served."},
        **ERRORS,
    },
    openapi_extra=openapi_params(
        query_param("since", SYNC_SCHEMA, "Resume after this sync cursor.", "1042"),
        query_param("bbox", BBOX_SCHEMA, "minLat,minLon,maxLat,maxLon"),
        query_param("stations", {"type": "string"}, "Comma-separated station ids.", "1,2,3"),
    ),
)
async def changes(
    request: Request, _claims: ReaderClaims, services: ServicesDep
) -> StreamingResponse:
    q = query_single(request)
    resume = request.headers.get("last-event-id") or q.get("since")
    station_ids = parse_station_ids(q["stations"]) if "stations" in q else ()
    bbox = parse_bbox(q["bbox"]) if "bbox" in q else None
    async with services.connect() as conn:
        bounds = await repo.fetch_feed_bounds(conn)
    if resume:
        start = parse_sync_cursor(resume).after_seq()
        if start > bounds.upto or bounds.lost(start):
            raise CursorGoneError(
                "cannot resume from this position (older than the retained feed, or ahead of "
                "it): list the stations again and stream from the new `sync` cursor"
            )
    else:
        start = bounds.upto
    stream = change_stream(
        state=services.state,
        connect=services.connect,
        start=start,
        station_ids=station_ids,
        bbox=bbox,
        heartbeat=services.settings.api_sse_heartbeat_seconds,
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

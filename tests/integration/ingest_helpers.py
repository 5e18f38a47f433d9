"""Helpers for the ingestion tests: an in-process ingestor wired to a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
from fuelhub_common.guard import GuardPolicy
from fuelhub_common.ingestion.fetch import RetryPolicy
from fuelhub_common.ingestion.service import IngestConfig, IngestionService
from fuelhub_common.ingestion.source import SourceAdapter
from fuelhub_common.publishing import ConfirmedPublisher, make_broker
from fuelhub_common.topology import declare_topology


@asynccontextmanager
async def ingestor(
    broker_url: str,
    adapter: SourceAdapter,
    url: str,
    *,
    max_part_bytes: int = 1024 * 1024,
    guard: GuardPolicy | None = None,
    snapshot_every: int = 0,
    max_body_bytes: int = 128 * 1024 * 1024,
    publish_timeout: float = 30.0,
    http_timeout: float = 30.0,
    attempts: int = 2,
) -> AsyncIterator[IngestionService]:
    broker = make_broker(broker_url, logger=None)
    await broker.start()
    await declare_topology(broker)
    stop = asyncio.Event()
    publisher = ConfirmedPublisher(broker_url, stop, attempt_timeout=publish_timeout)
    try:
        async with httpx.AsyncClient(timeout=http_timeout) as client:
            yield IngestionService(
                adapter=adapter,
                config=IngestConfig(
                    url=url,
                    poll_interval=3600,
                    retry=RetryPolicy(attempts=attempts, base_delay=0.05),
                    guard=guard or GuardPolicy(),
                    snapshot_every=snapshot_every,
                    max_part_bytes=max_part_bytes,
                    max_body_bytes=max_body_bytes,
                ),
                client=client,
                publisher=publisher,
                stop=stop,
            )
    finally:
        stop.set()
        await publisher.close()
        await broker.stop()


def changes(bodies: list[bytes]) -> list[dict[str, object]]:
    """Every entity change in the given change-set messages, in order."""
    return [c for body in bodies for c in orjson.loads(body)["changes"]]

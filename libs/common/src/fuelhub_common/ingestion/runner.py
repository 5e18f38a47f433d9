"""Runs an ingestor process: broker, health port, poll loop, and a clean SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

import httpx
from faststream.rabbit import RabbitBroker

from fuelhub_common.health import HealthServer
from fuelhub_common.ingestion.aliases import AliasProvider
from fuelhub_common.ingestion.service import IngestConfig, IngestionService, Phase
from fuelhub_common.ingestion.settings import BaseIngestSettings
from fuelhub_common.ingestion.source import SourceAdapter
from fuelhub_common.logs import configure_logging
from fuelhub_common.publishing import ConfirmedPublisher, StopRequestedError, make_broker
from fuelhub_common.settings import load_settings
from fuelhub_common.topology import declare_topology

log = logging.getLogger(__name__)


async def connect_until_ready(
    broker: RabbitBroker, stop: asyncio.Event, *, what: str, max_delay: float = 30.0
) -> bool:
    """Start ``broker`` (and declare the topology), retrying until it works or ``stop``."""
    delay = 1.0
    while not stop.is_set():
        try:
            await broker.start()
            await declare_topology(broker)
            return True
        except Exception as exc:
            log.warning(
                f"{what} unreachable, retrying",
                extra={"error": f"{type(exc).__name__}: {exc}", "delay": delay},
            )
            with contextlib.suppress(Exception):
                await broker.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(max_delay, delay * 2)
    return False


def ingestor_main(
    settings_class: type[BaseIngestSettings],
    adapter: SourceAdapter,
    *,
    name: str,
    description: str,
    argv: list[str] | None = None,
) -> None:
    """The whole entry point of an ingestor process: ``--help``, settings, run until SIGTERM."""
    prefix = adapter.source.value.upper()
    argparse.ArgumentParser(
        prog=f"fuelhub-{name}",
        description=description,
        epilog=f"Configured by environment variables ({prefix}_URL, {prefix}_POLL_INTERVAL, "
        "BROKER_URL, ...): see README.md.",
    ).parse_args(argv)
    settings = load_settings(settings_class)
    asyncio.run(run_ingestor(settings, adapter, settings.ingest_config(), name))


async def run_ingestor(
    settings: BaseIngestSettings, adapter: SourceAdapter, config: IngestConfig, service_name: str
) -> None:
    """Run until SIGTERM/SIGINT; a poll in flight may finish within ``shutdown_timeout``."""
    configure_logging(service_name, level=settings.log_level, fmt=settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # The FastStream broker declares the topology and answers readiness; the confirmed
    # publisher keeps a connection of its own that it can drop and remake at will.
    broker = make_broker(settings.broker_url, logger=None)
    publisher = ConfirmedPublisher(
        settings.broker_url, stop, attempt_timeout=settings.event_publish_timeout
    )
    ready = asyncio.Event()

    async def broker_ready() -> bool:
        return ready.is_set() and await broker.ping(timeout=1.0)

    health = HealthServer(settings.http_host, settings.http_port, {"broker": broker_ready})
    await health.start()
    try:
        if not await connect_until_ready(broker, stop, what="RabbitMQ"):
            return
        ready.set()
        log.info("ingestor started", extra={"url": config.url, "interval": config.poll_interval})
        async with httpx.AsyncClient(
            timeout=settings.http_timeout,
            headers={"User-Agent": f"fuelhub/{service_name}"},
            follow_redirects=True,
        ) as client:
            service = IngestionService(
                adapter=adapter,
                config=config,
                client=client,
                publisher=publisher,
                stop=stop,
                aliases=AliasProvider(
                    file=settings.fuel_aliases_file, url=settings.fuel_aliases_url
                ),
            )
            task = asyncio.create_task(service.run())
            stop_wait = asyncio.create_task(stop.wait())
            await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            await _finish(task, service, settings.shutdown_timeout)
    finally:
        ready.clear()
        await publisher.close()
        with contextlib.suppress(Exception):
            await broker.stop()
        await health.stop()
        log.info("ingestor stopped")


async def _finish(task: asyncio.Task[None], service: IngestionService, budget: float) -> None:
    """Abandon a fetch at once; give parsing and publishing ``budget`` seconds to complete.

    Abandoning is safe: nothing is remembered before the broker confirms, and a change set cut
    short is re-sent whole (the store ignores the parts it already has).
    """
    if not task.done() and service.phase in (Phase.FETCHING, Phase.IDLE):
        task.cancel()
    try:
        await asyncio.wait_for(task, timeout=budget)
    except (TimeoutError, asyncio.CancelledError, StopRequestedError):
        log.warning("poll abandoned on shutdown", extra={"phase": service.phase.value})

"""Entry point of the Source 1 ingestor: ``fuelhub-ingest-source1``."""

from __future__ import annotations

import argparse
import asyncio

from fuelhub_common.ingestion.runner import run_ingestor
from fuelhub_common.ingestion.service import IngestConfig
from fuelhub_common.settings import load_settings

from fuelhub_ingest_source1.settings import Source1Settings
from fuelhub_ingest_source1.stations import StationsAdapter


def build_config(settings: Source1Settings) -> IngestConfig:
    return IngestConfig(
        url=settings.source1_url,
        poll_interval=settings.source1_poll_interval,
        max_body_bytes=settings.ingest_max_body_bytes,
        retry=settings.retry_policy,
        guard=settings.guard_policy,
        snapshot_every=settings.source1_snapshot_every,
        max_part_bytes=settings.event_max_part_bytes,
    )


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(
        prog="fuelhub-ingest-source1",
        description="Polls Source 1 (the station catalog) and publishes its changes to RabbitMQ.",
        epilog="Configured by environment variables (SOURCE1_URL, SOURCE1_POLL_INTERVAL, "
        "BROKER_URL, ...): see README.md.",
    ).parse_args(argv)
    settings = load_settings(Source1Settings)
    asyncio.run(run_ingestor(settings, StationsAdapter(), build_config(settings), "ingest-source1"))


if __name__ == "__main__":
    main()

"""Entry point of the Source 2 ingestor: ``fuelhub-ingest-source2``."""

from __future__ import annotations

import argparse
import asyncio

from fuelhub_common.ingestion.runner import run_ingestor
from fuelhub_common.ingestion.service import IngestConfig
from fuelhub_common.settings import load_settings

from fuelhub_ingest_source2.prices import PricesAdapter
from fuelhub_ingest_source2.settings import Source2Settings


def build_config(settings: Source2Settings) -> IngestConfig:
    return IngestConfig(
        url=settings.source2_url,
        poll_interval=settings.source2_poll_interval,
        max_body_bytes=settings.ingest_max_body_bytes,
        retry=settings.retry_policy,
        guard=settings.guard_policy,
        snapshot_every=settings.source2_snapshot_every,
        max_part_bytes=settings.event_max_part_bytes,
    )


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(
        prog="fuelhub-ingest-source2",
        description="Polls Source 2 (fuel prices) and publishes its changes to RabbitMQ.",
        epilog="Configured by environment variables (SOURCE2_URL, SOURCE2_POLL_INTERVAL, "
        "BROKER_URL, ...): see README.md.",
    ).parse_args(argv)
    settings = load_settings(Source2Settings)
    asyncio.run(run_ingestor(settings, PricesAdapter(), build_config(settings), "ingest-source2"))


if __name__ == "__main__":
    main()

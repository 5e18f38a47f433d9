"""Entry point of the Source 1 ingestor: ``fuelhub-ingest-source1``."""

from __future__ import annotations

from fuelhub_common.ingestion.runner import ingestor_main

from fuelhub_ingest_source1.settings import Source1Settings
from fuelhub_ingest_source1.stations import StationsAdapter


def main(argv: list[str] | None = None) -> None:
    ingestor_main(
        Source1Settings,
        StationsAdapter(),
        name="ingest-source1",
        description="Polls Source 1 (the station catalog) and publishes its changes to RabbitMQ.",
        argv=argv,
    )


if __name__ == "__main__":
    main()

"""Entry point of the Source 2 ingestor: ``fuelhub-ingest-source2``."""

from __future__ import annotations

from fuelhub_common.ingestion.runner import ingestor_main

from fuelhub_ingest_source2.prices import PricesAdapter
from fuelhub_ingest_source2.settings import Source2Settings


def main(argv: list[str] | None = None) -> None:
    ingestor_main(
        Source2Settings,
        PricesAdapter(),
        name="ingest-source2",
        description="Polls Source 2 (fuel prices) and publishes its changes to RabbitMQ.",
        argv=argv,
    )


if __name__ == "__main__":
    main()

"""``fuelhub-store``: ``consume`` (default) runs the consumer; ``migrate``; ``prune``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from fuelhub_common.logs import configure_logging
from fuelhub_common.settings import load_settings

from fuelhub_store.settings import StoreSettings


async def _prune(settings: StoreSettings) -> dict[str, int]:
    from fuelhub_store.bootstrap import retention_policy
    from fuelhub_store.db import make_pool
    from fuelhub_store.retention import prune

    pool = make_pool(settings.database_url, size=1)
    await pool.open()
    try:
        async with pool.connection() as conn:
            return await prune(conn, retention_policy(settings))
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="fuelhub-store", description="Applies fuelhub change events to Postgres."
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="consume",
        choices=["consume", "migrate", "prune"],
        help="consume the change feed (default), apply migrations, or run one retention pass",
    )
    args = parser.parse_args(argv)
    settings = load_settings(StoreSettings)
    configure_logging("store", level=settings.log_level, fmt=settings.log_format)
    # Alembic announces its plugins at import time; that is not worth a line per start.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if args.command == "migrate":
        from fuelhub_store.db import migrate

        migrate(settings.database_url)
    elif args.command == "prune":
        print(json.dumps(asyncio.run(_prune(settings))))
    else:
        from fuelhub_store.bootstrap import run_consumer

        asyncio.run(run_consumer(settings))


if __name__ == "__main__":
    main()

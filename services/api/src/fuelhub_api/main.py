"""Entry point ``fuelhub-api``: settings, logging, uvicorn on HTTP_PORT (default 8002)."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI
from fuelhub_common.logs import configure_logging
from fuelhub_common.settings import load_settings

from fuelhub_api.app import create_app
from fuelhub_api.server import FastPathProtocol
from fuelhub_api.settings import Settings


def create() -> FastAPI:
    """The app from the environment (also the factory each worker process calls)."""
    settings = load_settings(Settings)
    configure_logging("api", level=settings.log_level, fmt=settings.log_format)
    return create_app(settings)


def main() -> None:
    settings = load_settings(Settings)
    configure_logging("api", level=settings.log_level, fmt=settings.log_format)
    options: dict[str, Any] = {
        "host": settings.http_host,
        "port": settings.http_port,
        "log_config": None,
        "proxy_headers": False,  # X-Forwarded-* are read by the app, only from trusted peers
        "server_header": False,
        "timeout_graceful_shutdown": int(settings.shutdown_timeout),
        "backlog": 2048,
        "loop": "uvloop",
        # httptools, plus cache hits answered without an ASGI task (fuelhub_api.server)
        "http": FastPathProtocol,
        "access_log": False,  # the latency histogram covers requests; a line each costs
    }
    if settings.api_workers > 1:
        # Each worker builds its own app (pool, watcher, caches) from the environment. A
        # spawned worker must answer the supervisor's ping within the health-check timeout;
        # uvicorn's 5 s default killed every worker in a loop while they were still importing
        # on a busy 2-core machine.
        uvicorn.run(
            "fuelhub_api.main:create",
            factory=True,
            workers=settings.api_workers,
            timeout_worker_healthcheck=60,
            **options,
        )
    else:
        uvicorn.run(create_app(settings), **options)


if __name__ == "__main__":
    main()

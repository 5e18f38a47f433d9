"""Entry point ``fuelhub-api``: settings, logging, uvicorn on API_HTTP_PORT (default 8002)."""

from __future__ import annotations

import uvicorn
from fuelhub_common.logs import configure_logging
from fuelhub_common.settings import load_settings

from fuelhub_api.app import create_app
from fuelhub_api.settings import Settings


def main() -> None:
    settings = load_settings(Settings)
    configure_logging("api", level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=False,  # X-Forwarded-* are read by the app, only from trusted peers
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        backlog=2048,
        loop="uvloop",
        http="httptools",
        access_log=False,  # request metrics cover it; a line per request costs the hot path
    )


if __name__ == "__main__":
    main()

"""``fuelhub-store-admin``: serves the admin UI (default 127.0.0.1:8003)."""

from __future__ import annotations

import argparse

import uvicorn
from fuelhub_common.logs import configure_logging
from fuelhub_common.settings import load_settings

from fuelhub_store.admin.settings import AdminSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="fuelhub-store-admin", description="The fuelhub admin web UI."
    )
    parser.add_argument("--host", help="listen address (default HTTP_HOST)")
    parser.add_argument("--port", type=int, help="listen port (default HTTP_PORT, 8003)")
    args = parser.parse_args(argv)
    settings = load_settings(AdminSettings)
    configure_logging("admin", level=settings.log_level, fmt=settings.log_format)
    from fuelhub_store.admin.app import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host or settings.http_host,
        port=args.port if args.port is not None else settings.http_port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.admin_trusted_proxies,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
    )


if __name__ == "__main__":
    main()

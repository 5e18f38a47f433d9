"""Entry point ``fuelhub-api``: settings, logging, uvicorn on HTTP_PORT (default 8002) and, when
``API_UNIX_SOCKET`` is set, on that Unix socket too (for a gateway on the same host)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fuelhub_common.logs import configure_logging
from fuelhub_common.settings import load_settings
from uvicorn.supervisors import Multiprocess

from fuelhub_api.app import create_app
from fuelhub_api.server import FastPathProtocol
from fuelhub_api.settings import Settings


def create() -> FastAPI:
    """The app from the environment (also the factory each worker process calls)."""
    settings = load_settings(Settings)
    configure_logging("api", level=settings.log_level, fmt=settings.log_format)
    return create_app(settings)


def unix_socket(path: str, backlog: int) -> socket.socket:
    """A listening Unix socket at ``path`` (a stale socket file left by a crash is replaced;
    any other file there is an error). Mode 0666 as uvicorn's own ``--uds``: nginx's workers
    may run as another user; the directory's permissions decide who can reach it."""
    where = Path(path)
    if where.is_socket():
        where.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o666)  # noqa: S103 (see the docstring: access is the directory's)
    sock.listen(backlog)
    return sock


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
        # A spawned worker must answer the supervisor's ping within this; uvicorn's 5 s
        # default killed every worker in a loop while they were still importing on a busy
        # 2-core machine.
        "timeout_worker_healthcheck": 60,
    }
    if settings.api_workers > 1:
        # Each worker builds its own app (pool, watcher, caches) from the environment.
        config = uvicorn.Config(
            "fuelhub_api.main:create", factory=True, workers=settings.api_workers, **options
        )
    else:
        config = uvicorn.Config(create_app(settings), **options)
    # As uvicorn.run, but listening on the TCP port and, if set, the Unix socket too.
    sockets = [config.bind_socket()]
    if settings.api_unix_socket:
        sockets.append(unix_socket(settings.api_unix_socket, config.backlog))
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=sockets).run()
        else:
            server.run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
        if settings.api_unix_socket and Path(settings.api_unix_socket).is_socket():
            Path(settings.api_unix_socket).unlink()


if __name__ == "__main__":
    main()

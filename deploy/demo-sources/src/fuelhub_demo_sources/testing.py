"""Run the demo upstreams inside a test: ``with run_demo_sources() as url: ...``."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from .app import create_app
from .settings import DemoSettings


def fast_settings(**overrides: Any) -> DemoSettings:
    """Settings for tests: 50 stations, no latency, no background evolution, seed 1."""
    values: dict[str, Any] = {
        "seed": 1,
        "stations": 50,
        "evolve": False,
        "source1_latency": 0.0,
        "source2_latency": 0.0,
    }
    values.update(overrides)
    return DemoSettings(**values)


@contextlib.contextmanager
def run_demo_sources(
    settings: DemoSettings | None = None, *, port: int = 0, startup_timeout: float = 120.0
) -> Iterator[str]:
    """Serve the demo upstreams in a background thread; yield their base URL.

    ``settings`` defaults to :func:`fast_settings` (fast and still); ``settings.port`` is ignored:
    ``port`` 0 picks a free port, a fixed ``port`` lets a test stop and restart the upstreams at
    the same address. The URL has no trailing slash: ``f"{url}/fuel-stations"``.
    """
    settings = settings or fast_settings()
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # So a restart on the same port does not wait for the old connections' TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, port))
    host, bound = sock.getsockname()[:2]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"demo-sources:{bound}", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread, startup_timeout)
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    stop = threading.Event()
    waited = 0.0
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("demo sources failed to start (see the log above)")
        if waited >= timeout:
            server.should_exit = True
            raise RuntimeError(f"demo sources did not start within {timeout} s")
        stop.wait(0.02)
        waited += 0.02

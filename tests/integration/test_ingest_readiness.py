"""Readiness follows the broker: not ready while it is gone, ready again once it is back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fuelhub_common.testing import PrivateRabbitMQ, free_port
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def readyz(port: int) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3).status_code
    except httpx.HTTPError:
        return 0


def wait_status(port: int, status: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while readyz(port) != status:
        assert time.monotonic() < deadline, f"/readyz never answered {status}"
        time.sleep(0.2)


def test_readiness_fails_without_the_broker_and_recovers(
    private_rabbitmq: PrivateRabbitMQ,
) -> None:
    port = free_port()
    with run_demo_sources(fast_settings(stations=10)) as url:
        process = subprocess.Popen(
            [sys.executable, "-m", "fuelhub_ingest_source2.main"],
            env={
                **os.environ,
                "BROKER_URL": private_rabbitmq.url,
                "SOURCE2_URL": f"{url}/fuel-prices",
                "HTTP_PORT": str(port),
                "SHUTDOWN_TIMEOUT": "5",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_status(port, 200)
            private_rabbitmq.stop()
            wait_status(port, 503)
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # alive
            private_rabbitmq.start()
            wait_status(port, 200, seconds=90)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()

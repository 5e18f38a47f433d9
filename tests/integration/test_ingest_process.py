"""The ingestor as ops run it: a process with a health port, JSON logs and a clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import orjson
import pytest
from fuelhub_common.testing import free_port
from fuelhub_demo_sources.testing import fast_settings, run_demo_sources

pytestmark = pytest.mark.integration


def wait_http(url: str, seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_ingestor_process_health_metrics_logs_and_sigterm(rabbitmq_url: str) -> None:
    port = free_port()
    with run_demo_sources(fast_settings(stations=30)) as url:
        env = {
            **os.environ,
            "BROKER_URL": rabbitmq_url,
            "SOURCE2_URL": f"{url}/fuel-prices",
            "SOURCE2_POLL_INTERVAL": "1",
            "HTTP_PORT": str(port),
            "SHUTDOWN_TIMEOUT": "5",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "fuelhub_ingest_source2.main"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert wait_http(f"http://127.0.0.1:{port}/healthz").status_code == 200
            deadline = time.monotonic() + 30
            while wait_http(f"http://127.0.0.1:{port}/readyz").status_code != 200:
                assert time.monotonic() < deadline, "never ready"
                time.sleep(0.2)
            while "fuelhub_polls_total{" not in (
                text := wait_http(f"http://127.0.0.1:{port}/metrics").text
            ):
                assert time.monotonic() < deadline, "no poll counted"
                time.sleep(0.2)
            for name in (
                "fuelhub_records_total",
                "fuelhub_change_sets_published_total",
                "fuelhub_deletions_held",
                "fuelhub_last_successful_poll_timestamp_seconds",
            ):
                assert name in text
            time.sleep(1.5)  # let it poll again, and be mid-cycle when told to stop
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
        output = process.stdout.read().decode() if process.stdout else ""
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]
    published = [line for line in lines if line["message"] == "change set published"]
    assert published, output[-2000:]
    first = published[0]
    assert first["service"] == "ingest-source2"
    assert first["snapshot"] is True
    assert first["event_id"] == first["change_set_id"]
    assert first["upserts"] > 0
    assert any(line["message"] == "ingestor stopped" for line in lines)


def test_bad_configuration_exits_with_a_clear_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fuelhub_ingest_source1.main"],
        env={**os.environ, "SOURCE1_URL": "ftp://nope", "SOURCE1_POLL_INTERVAL": "-5"},
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "SOURCE1_URL" in done.stderr.decode()
    assert "SOURCE1_POLL_INTERVAL" in done.stderr.decode()

"""A 200 MB upstream body: the ingestor process refuses it at its cap, in bounded memory.

This runs the real ``fuelhub-ingest-source2`` process (default 128 MiB cap) so its peak
resident memory (``VmHWM``) can be read from ``/proc``: the body is streamed to a spooled file
and refused past the cap, so the peak must stay far below the body's size.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fuelhub_common.testing import free_port

from .conftest import Pipeline, StoreState, expected_prices, settle, store_state, wait_for_store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

PEAK_RSS_LIMIT_MIB = 160  # the process idles near 80 MiB; the body alone would add 128+


def _bin(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).with_name(name))


def _status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match, field
    return int(match.group(1))


def _polls(port: int, outcome: str) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    pattern = rf'^fuelhub_polls_total\{{outcome="{outcome}",source="source2"\}} (\S+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _wait(check: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [_bin("fuelhub-ingest-source2")], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def test_a_200_mb_body_is_refused_at_the_cap_in_bounded_memory(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.control("POST", "reset")
    before = store_state(pipeline.db_url)
    pipeline.control("POST", "body", {"endpoint": "prices", "kind": "huge", "size_mb": 200})
    port = free_port()
    env = {
        **os.environ,
        "BROKER_URL": pipeline.broker_url,
        "SOURCE2_URL": f"{pipeline.demo}/fuel-prices",
        "SOURCE2_POLL_INTERVAL": "2",
        "HTTP_PORT": str(port),
        "HTTP_RETRIES": "1",
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "ingest.log"
    process = _start(env, log)
    try:
        _wait(lambda: _polls(port, "failed") >= 1, "the huge poll to fail", 180)
        peak_mib = _status_kib(process.pid, "VmHWM") / 1024
        assert "body exceeds the cap of" in log.read_text()  # streamed, not refused up front
        assert await settle(pipeline) == before  # nothing of it reached the store
        print(f"ingestor peak RSS with a 200 MB body: {peak_mib:.0f} MiB")
        assert peak_mib < PEAK_RSS_LIMIT_MIB

        pipeline.control("DELETE", "body")
        _wait(lambda: _polls(port, "succeeded") >= 1, "a clean poll", 60)
        await wait_for_store(pipeline, StoreState(before.stations, expected_prices(pipeline)))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-2000:]

"""What the benchmarks ran on: cores, memory, load and the versions of every server and tool."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stats import load_average

ROOT = Path(__file__).resolve().parents[1]


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return (done.stdout + done.stderr).strip()


def _first(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    return found.group(1) if found else text.splitlines()[0] if text else "unknown"


def _postgres(admin_url: str) -> str:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"
    except psycopg.Error as exc:
        return f"unreachable ({exc})"


def _memory_gib() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def speed_index() -> float:
    """Seconds for a fixed single-threaded Python loop (best of 3): lower is faster.

    This machine is a VM whose speed swings up to 2x between minutes (neighbours, host steal):
    recorded at the start and end of a run so that figures from different runs can be compared.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(5_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def steal_share(start: tuple[int, int], end: tuple[int, int]) -> float:
    """Percentage of CPU time the hypervisor took for others between two :func:`cpu_ticks`."""
    total = end[0] - start[0]
    return round(100 * (end[1] - start[1]) / total, 1) if total > 0 else 0.0


def describe(admin_url: str) -> dict[str, Any]:
    """The machine now (call at the start: the load average is part of the record)."""
    commit = _run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (plus uncommitted changes)" if dirty else ""),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "load_average_start": load_average(),
        "speed_index_start": speed_index(),
        "cpu_ticks_start": cpu_ticks(),
        "kernel": platform.release(),
        "versions": {
            "Python": platform.python_version(),
            "PostgreSQL": _postgres(admin_url),
            "RabbitMQ": _first(r"^(\S+)", _run(["rabbitmqctl", "version"])),
            "nginx": _first(r"nginx/(\S+)", _run(["nginx", "-v"])),
            "wrk": _first(r"wrk (\S+)", _run(["wrk", "-v"])),
        },
    }

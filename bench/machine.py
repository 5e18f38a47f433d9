"""What the benchmarks ran on: cores, memory, load and the versions of every server and tool."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
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
        "kernel": platform.release(),
        "versions": {
            "Python": platform.python_version(),
            "PostgreSQL": _postgres(admin_url),
            "RabbitMQ": _first(r"^(\S+)", _run(["rabbitmqctl", "version"])),
            "nginx": _first(r"nginx/(\S+)", _run(["nginx", "-v"])),
            "wrk": _first(r"wrk (\S+)", _run(["wrk", "-v"])),
        },
    }

"""Run wrk (Debian's) with a Lua script that sets the request headers and prints its figures.

The script's ``done`` hook prints one ``WRKJSON {...}`` line: requests, errors by kind, bytes and
latency percentiles, so nothing is scraped from wrk's human-readable summary. No ``response``
hook is installed: it would make wrk run Lua for every response and lower its own ceiling.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""


def _lua_string(value: str) -> str:
    # A long bracket needs no escaping; ETags carry double quotes.
    return f"[==[{value}]==]"


def script(headers: Mapping[str, str]) -> str:
    """The Lua text: headers on every request, then the JSON-printing ``done`` hook."""
    # The spaces matter: "[[" would open a Lua long string.
    lines = [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n" + DONE_HOOK


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    requests: int
    bytes_per_response: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run(
    url: str,
    headers: Mapping[str, str],
    *,
    workdir: Path,
    connections: int = 32,
    threads: int = 2,
    seconds: float = 5,
) -> WrkResult:
    """One wrk run; ``errors`` counts socket errors, timeouts and non-2xx/3xx answers."""
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    lua = workdir / f"wrk-{abs(hash((url, tuple(headers.items()))))}.lua"
    lua.write_text(script(headers))
    done = subprocess.run(
        [exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
         "--timeout", "10s", "-s", str(lua), url],
        capture_output=True, text=True, timeout=seconds + 60, check=False,
    )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors",
                                  "status_errors", "timeouts"))  # fmt: skip
    return WrkResult(
        requests_per_s=raw["requests"] / seconds_run if seconds_run else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors,
        requests=raw["requests"],
        bytes_per_response=raw["bytes"] / raw["requests"] if raw["requests"] else 0.0,
    )

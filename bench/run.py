"""Run every benchmark of issue 8 and write docs/benchmarks.md (and the raw figures as JSON).

    uv run --frozen --no-sync python bench/run.py                    # the full run (make bench)
    uv run --frozen --no-sync python bench/run.py --sizes 200 --runs 1 --wrk-seconds 2 \\
        --freshness-changes 5 --output /tmp/b.md                     # a smoke run

Sections: apply (store), ingest, read (wrk vs a static nginx ceiling), freshness, memory.
Each scenario runs in the same order every time; see docs/benchmarks.md for the method.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import freshness
import machine
import psycopg
import read
import report
from ceiling import static_nginx
from fuelhub_common.system import LocalSystem, SystemConfig, process_tree_rss_mb, run_system
from stats import load_average, spread

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_apply(sizes: list[int], runs: int, workdir: Path) -> dict[str, Any]:
    out = workdir / "apply.json"
    subprocess.run(
        [sys.executable, str(HERE / "store_apply.py"), "--stations", *map(str, sizes),
         "--runs", str(runs), "--admin-url", ADMIN_URL, "--json-out", str(out)],
        check=True,
    )  # fmt: skip
    raw = json.loads(out.read_text())
    summary: dict[str, Any] = {}
    for size, results in raw.items():
        row: dict[str, Any] = {k: spread([r[k] for r in results]) for k, _ in report.APPLY_ROWS}
        row["no_change_rows_written_max"] = max(
            sum(r["no_change_rows_written"].values()) for r in results
        )
        row["per_table"] = results[-1]["no_change_rows_written"]
        row["decode_median"] = {
            k: spread([r[k + "_decode"] for r in results])["median"] for k, _ in report.APPLY_ROWS
        }
        summary[size] = row
    return summary


def run_ingest(sizes: list[int], runs: int) -> list[dict[str, Any]]:
    rows = []
    for kind in ("stations", "prices"):
        for n in sizes:
            # One process per size and source, so that its peak RSS is its own.
            done = subprocess.run(
                [sys.executable, str(HERE / "ingest.py"), "--stations", str(n),
                 "--runs", str(runs), "--kind", kind],
                check=True, capture_output=True, text=True, cwd=ROOT,
            )  # fmt: skip
            line = [x for x in done.stdout.splitlines() if x.startswith("{")][-1]
            rows.append(json.loads(line))
            log(f"ingest {kind} {n}: {rows[-1]['seconds']}")
    return rows


def wait_loaded(system: LocalSystem, stations: int, timeout: float) -> None:
    """Until the API lists every catalog station and the priced count has stopped moving."""
    catalog = int(system_state(system)["stations"])
    system.wait_for_stations(catalog, timeout=timeout)
    deadline = time.monotonic() + timeout
    last, steady = -1, 0
    while steady < 3:
        now = system.priced_stations()
        steady = steady + 1 if now == last and now > 0 else 0
        last = now
        if time.monotonic() > deadline:
            raise TimeoutError(f"prices still arriving after {timeout} s ({now} priced)")
        time.sleep(1)
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    log(f"loaded {catalog} stations, {last} with prices")


def system_state(system: LocalSystem) -> dict[str, Any]:
    import httpx

    state: dict[str, Any] = httpx.get(f"{system.demo}/_control/state", timeout=30).json()
    return state


def memory(system: LocalSystem, stations: int) -> dict[str, Any]:
    return {
        "stations": stations,
        "rss_mb": {n: round(process_tree_rss_mb(p), 1) for n, p in system.pids().items()},
        "peak_rss_mb": {
            n: round(process_tree_rss_mb(p, peak=True), 1) for n, p in system.pids().items()
        },
    }


def merge(files: list[Path], output: Path, notes: list[str]) -> None:
    """One report from several partial runs (e.g. `--sections apply ingest`, then `system`)."""
    parts = [json.loads(f.read_text()) for f in files]
    results: dict[str, Any] = {**copy.deepcopy(parts[0]), "notes": [*notes]}
    for part in parts[1:]:
        for key in ("apply", "ingest", "read", "freshness", "memory"):
            if key in part:
                results[key] = part[key]
        results["load_average_end"] = part["load_average_end"]
        results["elapsed_min"] += part["elapsed_min"]
    results["config"]["command"] = " + ".join(p["config"]["command"] for p in parts)
    results["config"]["sizes"] = sorted({n for p in parts for n in p["config"]["sizes"]})
    for part in parts:
        m = part["machine"]
        results["notes"].append(
            f"- `{part['config']['command']}`: started {m['started_at']} at commit {m['commit']}, "
            f"load average {' / '.join(map(str, m['load_average_start']))} at its start and "
            f"{' / '.join(map(str, part['load_average_end']))} at its end; speed index "
            f"{m.get('speed_index_start', '?')} / {part.get('speed_index_end', '?')} s, "
            f"{part.get('steal_percent', '?')}% of CPU time stolen by the host."
        )
    output.write_text(report.render(results))
    log(f"wrote {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--runs-large", type=int, help="runs above 10,000 stations (default: --runs)"
    )
    parser.add_argument("--wrk-seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--freshness-changes", type=int, default=100, help="price changes, sizes up to 10,000"
    )
    parser.add_argument(
        "--freshness-changes-large", type=int, default=5,
        help="price changes above 10,000 stations (each re-reads the whole source: slow)",
    )  # fmt: skip
    parser.add_argument("--poll-interval", type=float, default=0.5, help="Source 2's")
    parser.add_argument(
        "--api-unix-socket", action="store_true",
        help="the gateway reaches the API over a Unix socket (default: loopback TCP, as make run)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--json", type=Path,
        help="raw figures (default: next to --output, or var/bench/ for docs/benchmarks.md)",
    )  # fmt: skip
    parser.add_argument(
        "--sections", nargs="+", default=["apply", "ingest", "system"],
        choices=["apply", "ingest", "system"],
    )  # fmt: skip
    parser.add_argument("--note", action="append", default=[], help="a line for the Notes")
    parser.add_argument(
        "--merge", type=Path, nargs="+",
        help="run nothing: render --output from the raw JSON of earlier runs of some sections "
        "(the first file's machine record is kept, the others' start times are noted)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.output, args.note)
        return
    sizes = sorted(args.sizes)
    runs_large: int = args.runs_large or args.runs

    def runs_for(stations: int) -> int:
        return int(args.runs) if stations <= 10_000 else runs_large

    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": machine.describe(ADMIN_URL),
        "config": {
            "command": "python bench/run.py " + shlex.join(sys.argv[1:]),
            "sizes": sizes,
            "runs": args.runs,
            "runs_large": runs_large,
            "wrk_seconds": args.wrk_seconds,
            "connections": args.connections,
            "api_unix_socket": args.api_unix_socket,
        },
        "notes": args.note,
    }
    log(f"machine: {results['machine']}")
    # The raw figures of the documented run stay out of docs/ (var/ is not committed).
    default_raw = ROOT / "var" / "bench" / "benchmarks.json"
    raw = args.json or (
        default_raw if args.output == DEFAULT_OUTPUT else args.output.with_suffix(".json")
    )
    raw.parent.mkdir(parents=True, exist_ok=True)

    def checkpoint() -> None:
        """What is done so far, so that a run stopped midway keeps it (--merge can use it)."""
        results["load_average_end"] = load_average()
        results["speed_index_end"] = machine.speed_index()
        results["steal_percent"] = machine.steal_share(
            results["machine"]["cpu_ticks_start"], machine.cpu_ticks()
        )
        results["elapsed_min"] = (time.monotonic() - started) / 60
        raw.write_text(json.dumps(results, indent=1, default=str))

    with tempfile.TemporaryDirectory(prefix="fuelhub-bench-") as tmp:
        work = Path(tmp)
        if "apply" in args.sections:
            log("apply")
            results["apply"] = {}
            for n in sizes:
                results["apply"].update(run_apply([n], runs_for(n), work))
                checkpoint()
        if "ingest" in args.sections:
            log("ingest")
            results["ingest"] = []
            for n in sizes:
                results["ingest"] += run_ingest([n], runs_for(n))
                checkpoint()
        if "system" in args.sections:
            results["read"], results["freshness"] = {}, {}
            with static_nginx() as ceiling:
                for n in sizes:
                    config = SystemConfig(
                        stations=n,
                        source1_poll_interval=30,
                        source2_poll_interval=args.poll_interval,
                        api_unix_socket=args.api_unix_socket,
                        start_timeout=600,
                    )
                    log(f"system with {n} stations")
                    with run_system(work / f"system-{n}", config) as system:
                        wait_loaded(system, n, timeout=1800)
                        log(f"read {n}")
                        results["read"][str(n)] = read.measure(
                            system, n, runs=runs_for(n), seconds=args.wrk_seconds,
                            connections=args.connections, ceiling=ceiling, workdir=work,
                        )  # fmt: skip
                        checkpoint()
                        if n == sizes[-1]:
                            results["memory"] = memory(system, n)
                            log(f"memory: {results['memory']}")
                        changes = (
                            args.freshness_changes if n <= 10_000
                            else args.freshness_changes_large
                        )  # fmt: skip
                        log(f"freshness {n}: {changes} changes")
                        results["freshness"][str(n)] = asyncio.run(
                            freshness.measure(system, changes)
                        )
                        checkpoint()
                        log(f"freshness {n}: p50 {results['freshness'][str(n)]['p50_s']:.3f} s"
                            f" p99 {results['freshness'][str(n)]['p99_s']:.3f} s")  # fmt: skip
    checkpoint()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report.render(results))
    log(f"wrote {args.output} and {raw}")


if __name__ == "__main__":
    main()

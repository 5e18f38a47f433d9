"""A smoke run of `make bench` with tiny sizes: the harness runs every scenario end to end and
writes every section with sane figures. It asserts no timings (those are for docs/benchmarks.md).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("## Machine", "## Method", "## Targets", "## Apply (store)", "## Ingest", "## Read",
            "## Freshness", "## Memory")  # fmt: skip
SERVICES = {"auth", "api", "store", "ingest1", "ingest2", "gateway"}
APPLY_KEYS = ("first_sync_stations", "first_sync_prices", "first_sync", "first_sync_together",
              "delta_stations", "delta_prices", "no_change_snapshot_stations", "no_change_snapshot_prices",
              "no_change_delta")  # fmt: skip
READ_KEYS = ("v1_page", "v1_deep", "v2_search", "v2_detail", "v1_page_304")


def _sane(spread: dict[str, float]) -> bool:
    values = [spread["min"], spread["median"], spread["max"]]
    return all(math.isfinite(v) and v > 0 for v in values) and sorted(values) == values


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install -y {tool})")
    out = tmp_path_factory.mktemp("bench") / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "200", "--runs", "1",
         "--wrk-seconds", "1", "--freshness-changes", "3", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return out.read_text(), json.loads(out.with_suffix(".json").read_text())


@pytest.mark.timeout(1600)
def test_report_has_every_section_and_target(smoke: tuple[str, dict[str, Any]]) -> None:
    text, results = smoke
    for heading in SECTIONS:
        assert heading in text, heading
    machine = results["machine"]
    assert machine["cores"] >= 1
    assert len(machine["load_average_start"]) == 3
    assert all(v and v != "not installed" for v in machine["versions"].values()), machine
    assert "| met |" in text or "**not met**" in text


@pytest.mark.timeout(1600)
def test_apply_and_ingest_figures_are_sane(smoke: tuple[str, dict[str, Any]]) -> None:
    _, results = smoke
    apply = results["apply"]["200"]
    for key in APPLY_KEYS:
        assert _sane(apply[key]), (key, apply[key])
    assert isinstance(apply["no_change_rows_written_max"], int)
    assert {"stations", "current_prices", "price_history", "station_doc_fuels"} <= set(
        apply["per_table"]
    )
    kinds = {row["kind"]: row for row in results["ingest"]}
    assert set(kinds) == {"stations", "prices"}
    for row in kinds.values():
        assert row["records"] > 100
        assert row["delta_upserts"] >= 1
        assert row["peak_rss_mb"] >= row["rss_before_mb"] > 0
        for spread in row["seconds"].values():
            assert _sane(spread), row


@pytest.mark.timeout(1600)
def test_read_freshness_and_memory_figures_are_sane(smoke: tuple[str, dict[str, Any]]) -> None:
    _, results = smoke
    scenarios = {s["key"]: s for s in results["read"]["200"]}
    assert set(scenarios) == set(READ_KEYS)
    for key, scenario in scenarios.items():
        assert scenario["bytes"] > 100, key
        assert set(scenario["targets"]) == {"ceiling", "gateway", "direct"}
        for target, figures in scenario["targets"].items():
            assert figures["requests"] > 0, (key, target)
            assert figures["errors"] == 0, (key, target, figures)  # 401/429/5xx would count
            assert _sane(figures["rps"]), (key, target)
            assert _sane(figures["ratio"]), (key, target)
            assert figures["p50_ms"]["median"] <= figures["p99_ms"]["median"], (key, target)
    fresh = results["freshness"]["200"]
    assert fresh["changes"] == 3
    assert 0 < fresh["p50_s"] <= fresh["p99_s"] < 120
    assert fresh["with_interval_p50_s"] >= fresh["p50_s"]
    memory = results["memory"]
    assert set(memory["rss_mb"]) >= SERVICES
    assert all(mb > 1 for mb in memory["rss_mb"].values()), memory
    # A peak is never below the current size, and the report shows it beside it.
    assert all(memory["peak_rss_mb"][n] >= mb for n, mb in memory["rss_mb"].items()), memory
    assert "| process | RSS | peak RSS |" in smoke[0]


@pytest.mark.timeout(600)
def test_read_queries_times_every_api_statement_and_drops_its_database() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "read_queries.py"), "--stations", "300",
         "--repeat", "1", "--plans"],
        cwd=ROOT, capture_output=True, text=True, timeout=550, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    lines = done.stdout.splitlines()
    timed = [line for line in lines if re.match(r"^\s*\d+\.\d+ ms  \S", line)]
    names = {line.split(" ms  ", 1)[1] for line in timed}
    assert {"v1 page, offset 0", "v2 fuel, sort=price", "delta page from 0", "station detail",
            "read-model version"} <= names, names  # fmt: skip
    assert len(timed) == 19
    # The plans read the two read-model tables through the view.
    assert "station_doc_heads" in done.stdout
    assert "station_doc_fuels" in done.stdout
    (database,) = re.findall(r"scratch database (fuelhub_reads_\w+)", done.stdout)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
        row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (database,))
        assert row.fetchone() == (0,)

"""Render the collected figures as docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from targets import checks

APPLY_ROWS = (
    ("first_sync_stations", "first sync: stations change set"),
    ("first_sync_prices", "first sync: prices change set"),
    ("first_sync", "first sync: both (stations + prices)"),
    (
        "first_sync_together",
        "first sync: both sets delivered together, handled as the consumer does",
    ),
    ("delta_stations", "1% delta: stations change set"),
    ("delta_prices", "1% delta: prices change set"),
    ("no_change_snapshot_stations", "no change: stations snapshot, nothing different"),
    ("no_change_snapshot_prices", "no change: prices snapshot, nothing different"),
    ("no_change_delta", "no change: empty delta change set"),
)
TARGET_ORDER = ("ceiling", "gateway", "direct")


def _s(spread: dict[str, float], unit: str = "s", digits: int = 3) -> str:
    text = " / ".join(f"{spread[k]:,.{digits}f}" for k in ("min", "median", "max"))
    return f"{text} {unit}" if unit else text


def _n(size: str | int) -> str:
    return f"{int(size):,}"


def machine(m: dict[str, Any], results: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    load_end = results.get("load_average_end", ("?", "?", "?"))
    return [
        "## Machine",
        "",
        f"- {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB memory, Linux {m['kernel']}",
        f"- {versions}",
        "- load average at the start (1/5/15 min): "
        f"{' / '.join(map(str, m['load_average_start']))}; at the end: "
        f"{' / '.join(map(str, load_end))}",
        f"- started {m['started_at']}, commit {m['commit']}, {results['elapsed_min']:.1f} min",
        "- speed index (seconds for a fixed Python loop, lower is faster) at the start / end: "
        f"{m.get('speed_index_start', '?')} / {results.get('speed_index_end', '?')}; CPU time "
        f"stolen by the host during the run: {results.get('steal_percent', '?')}%. This VM's "
        "speed swings up to 2x between minutes: compare runs by their speed index.",
        "",
    ]


def apply(results: dict[str, Any]) -> list[str]:
    if "apply" not in results:
        return []
    lines = [
        "## Apply (store)",
        "",
        "Seconds from the first part of a change set handed to the store's handler to its last "
        "commit (min / median / max over the runs; the share spent decoding the messages is in "
        "the raw JSON). Rows written by the no-change change sets are the sum of inserts, "
        "updates and deletes that `pg_stat_user_tables` counts on the station, service, fuel "
        "type, price list, current price, price history, read model (`station_doc_heads`, "
        "`station_doc_fuels`) and outbox tables.",
        "",
    ]
    sizes = list(results.get("apply", {}))
    lines.append("| change set | " + " | ".join(f"{_n(n)} stations" for n in sizes) + " |")
    lines.append("|---|" + "---|" * len(sizes))
    for key, title in APPLY_ROWS:
        lines.append(f"| {title} | "
                     + " | ".join(_s(results["apply"][n][key]) for n in sizes) + " |")  # fmt: skip
    lines.append(
        "| rows written by the no-change sets (max over runs) | "
        + " | ".join(str(results["apply"][n]["no_change_rows_written_max"]) for n in sizes)
        + " |"
    )
    lines += ["", "Per table (last run): " + "; ".join(
        f"{_n(n)}: " + ", ".join(f"`{t}` {c}" for t, c in results["apply"][n]["per_table"].items())
        for n in sizes
    ), ""]  # fmt: skip
    return lines


def ingest(results: dict[str, Any]) -> list[str]:
    if "ingest" not in results:
        return []
    lines = [
        "## Ingest",
        "",
        "Seconds for one poll of the demo upstream (in its own process, no latency, conditional "
        "GET off so every poll reads the whole body): fetch, parse, validate, diff and publish "
        "with publisher confirms to a fresh virtual host; peak RSS of the benchmark process "
        "(the ingestor runs in it).",
        "",
        "| source | stations | records | first poll (snapshot) | no-change poll | 1% delta poll "
        "| peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(results["ingest"], key=lambda r: (r["kind"] != "stations", r["stations"])):
        s = row["seconds"]
        lines.append(
            f"| {row['kind']} | {_n(row['stations'])} | {_n(row['records'])} "
            f"| {_s(s['snapshot'])} | {_s(s['no_change'])} | {_s(s['delta_1pct'])} "
            f"| {row['peak_rss_mb']:.0f} MB (at start {row['rss_before_mb']:.0f} MB) |"
        )
    return [*lines, ""]


def read(results: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if "read" not in results:
        return []
    lines = [
        "## Read",
        "",
        f"`wrk -t2 -c{config['connections']} -d{config['wrk_seconds']:g}s` on loopback with a "
        "valid token (a Lua script sets the headers), no `Accept-Encoding`. Each run measures "
        "the ceiling (a private nginx serving the same response bytes as a static file; for "
        "the `304` the page as a `200`), the gateway and the API directly, back to back; "
        "the ratio is each run's figure over that run's ceiling. Cells are min / median / max "
        "over the runs. One API worker (`API_WORKERS=1`, the default); the gateway reaches "
        "the API over "
        + (
            "a Unix socket (`API_UNIX_SOCKET`)."
            if config.get("api_unix_socket")
            else "loopback TCP (as under `make run`)."
        ),
        "",
    ]
    for size, scenarios in results.get("read", {}).items():
        lines += [
            f"### {_n(size)} stations",
            "",
            "| request | bytes | via | req/s | p50 | p99 | share of ceiling | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in scenarios:
            size = (
                f"none (the ceiling: {s['bytes']:,})" if s["key"].endswith("_304")
                else f"{s['bytes']:,}"
            )  # fmt: skip
            for target in TARGET_ORDER:
                t = s["targets"][target]
                ratio = "(the ceiling)" if target == "ceiling" else _s(t["ratio"], "", 2)
                lines.append(
                    f"| {s['title']} | {size} | {target} | {_s(t['rps'], '', 0)} "
                    f"| {_s(t['p50_ms'], 'ms', 1)} | {_s(t['p99_ms'], 'ms', 1)} "
                    f"| {ratio} | {t['errors']} of {t['requests']:,} |"
                )
        lines.append("")
    return lines


def freshness(results: dict[str, Any]) -> list[str]:
    if "freshness" not in results:
        return []
    lines = [
        "## Freshness",
        "",
        "From a price change in the demo upstream being polled (the start of the poll that "
        "carried it, from its `poll.completed` event) to the new price visible in the API's "
        "station detail (checked every 10 ms). The wait for that poll to begin (the poll "
        "interval) is excluded; the median including it is shown for reference.",
        "",
        "| stations | changes | p50 | p99 | min / max | of which the poll (fetch, parse, diff, "
        "publish), p50 | after the poll finished (store + API), p50 / p99 "
        "| p50 including the wait for the poll (interval) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, f in results.get("freshness", {}).items():
        lines.append(
            f"| {_n(size)} | {f['changes']} | {f['p50_s']:.3f} s | {f['p99_s']:.3f} s "
            f"| {f['min_s']:.3f} / {f['max_s']:.3f} s | {f['poll_duration_p50_s']:.3f} s "
            f"| {f['after_poll_finished_p50_s']:.3f} / {f['after_poll_finished_p99_s']:.3f} s "
            f"| {f['with_interval_p50_s']:.3f} s ({f['poll_interval_s']} s) |"
        )
    return [*lines, ""]


def memory(results: dict[str, Any]) -> list[str]:
    m = results.get("memory")
    if not m:
        return []
    return [
        "## Memory",
        "",
        f"RSS of each process (with its children: nginx's workers) at {_n(m['stations'])} "
        "stations, right after the read benchmark, and its peak since it started (`VmHWM`; for "
        "a process with children, the sum of each one's peak): the store's is reached while it "
        "applies the first sync. `demo` is the demo upstream (a test tool).",
        "",
        "| process | RSS | peak RSS |",
        "|---|---|---|",
        *[f"| {name} | {mb:.0f} MB | {_peak(m, name)} |" for name, mb in m["rss_mb"].items()],
        "",
    ]


def _peak(memory: dict[str, Any], name: str) -> str:
    """A process's peak RSS; reports written before it was recorded have none."""
    mb = memory.get("peak_rss_mb", {}).get(name)
    return "?" if mb is None else f"{mb:.0f} MB"


def render(results: dict[str, Any]) -> str:
    config = results["config"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{config['command']}` (`bench/run.py`; issue 8). Every figure is min / "
        "median / max over the runs unless it says otherwise; targets are issue 8's, checked "
        "against the medians.",
        "",
        *machine(results["machine"], results),
        "## Method",
        "",
        "- **Apply**: `bench/store_apply.py` builds the change sets an ingestor publishes "
        "(synthetic, 3–6 prices per station, parts of 2,500 entities) and hands them to the "
        "store's own handler (decode, one transaction per message) against a fresh database; "
        "the broker hop is not included.",
        "- **Ingest**: `bench/ingest.py`: the ingestor's poll against the demo upstream and a "
        "fresh RabbitMQ virtual host, in one process per size.",
        "- **Read, freshness, memory**: the whole system started by `fuelhub_common.system` "
        "(demo upstream, both ingestors, store, auth, API, nginx gateway; fresh database and "
        "virtual host; free ports), loaded with the demo upstream's stations and prices through "
        "the real pipeline, then `ANALYZE`d (what autovacuum does after a bulk load). The "
        "gateway's per-client rate limit is raised for the benchmark (one client address).",
        f"- Runs: {config['runs']} per figure up to 10,000 stations, "
        f"{config.get('runs_large', config['runs'])} above; sizes: "
        f"{', '.join(_n(n) for n in config['sizes'])}.",
        "",
        "## Targets",
        "",
        "| what | target | figure (median) | |",
        "|---|---|---|---|",
        *[f"| {c.what} | {c.target} | {c.figure} | {c.verdict} |" for c in checks(results)],
        "",
        *apply(results),
        *ingest(results),
        *read(results, config),
        *freshness(results),
        *memory(results),
    ]
    if results.get("notes"):
        lines += ["## Notes", "", *results["notes"], ""]
    return "\n".join(lines)

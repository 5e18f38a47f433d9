"""Issue 8's targets, checked against the figures (medians over the runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    what: str
    target: str
    figure: str
    met: bool | None  # None: not measured in this run (e.g. a smoke run without that size)

    @property
    def verdict(self) -> str:
        return "not measured" if self.met is None else "met" if self.met else "**not met**"


def _apply(results: dict[str, Any]) -> list[Check]:
    apply = results.get("apply", {})
    checks: list[Check] = []
    big = apply.get("100000")
    for key, label in (
        ("first_sync", "Apply: first sync of 100,000 stations with prices"),
        ("first_sync_together", "Apply: first sync of 100,000 stations with prices, both sets "
         "delivered together (as two ingestors starting at once publish them)"),
    ):  # fmt: skip
        value = big[key]["median"] if big and key in big else None
        checks.append(Check(label, "< 10 s", f"{value:.2f} s" if value is not None else "—",
                            None if value is None else value < 10))  # fmt: skip
    small = apply.get("10000")
    for key, label in (("delta_stations", "stations"), ("delta_prices", "prices")):
        value = small[key]["median"] if small else None
        checks.append(Check(f"Apply: 1% delta of 10,000 ({label} change set)", "< 0.2 s",
                            f"{value:.3f} s" if value is not None else "—",
                            None if value is None else value < 0.2))  # fmt: skip
    for key, label in (
        ("no_change_delta", "empty delta"),
        ("no_change_snapshot_stations", "stations snapshot, nothing changed"),
        ("no_change_snapshot_prices", "prices snapshot, nothing changed"),
    ):
        value = small[key]["median"] if small else None
        rows = small["no_change_rows_written_max"] if small else None
        checks.append(Check(
            f"Apply: no-change change set at 10,000 ({label}), zero rows written",
            "< 0.1 s, 0 rows",
            f"{value:.3f} s, {rows} rows" if value is not None else "—",
            None if value is None else value < 0.1 and rows == 0,
        ))  # fmt: skip
    return checks


def _read(results: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for size, scenarios in results.get("read", {}).items():
        by_key = {s["key"]: s for s in scenarios}
        page = by_key["v1_page"]["targets"]["gateway"]
        revalidation = by_key["v1_page_304"]["targets"]["gateway"]
        n = f"{int(size):,}"
        checks.append(Check(f"Read at {n}: v1 `limit=100` via gateway, share of ceiling",
                            ">= 0.25", f"{page['ratio']['median']:.2f}",
                            page["ratio"]["median"] >= 0.25))  # fmt: skip
        checks.append(Check(f"Read at {n}: v1 `limit=100` via gateway, p99 at 32 connections",
                            "< 50 ms", f"{page['p99_ms']['median']:.1f} ms",
                            page["p99_ms"]["median"] < 50))  # fmt: skip
        checks.append(Check(f"Read at {n}: `304` via gateway, share of ceiling (page as 200)",
                            ">= 0.5", f"{revalidation['ratio']['median']:.2f}",
                            revalidation["ratio"]["median"] >= 0.5))  # fmt: skip
    return checks


def _freshness(results: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for size, f in results.get("freshness", {}).items():
        n = f"{int(size):,}"
        # "After the poll" read two ways: from the start of the poll that carried the change
        # (the poll's own fetch/parse/diff/publish included), and from its end.
        checks.append(Check(f"Freshness at {n}: p99 from the start of the poll", "< 1 s",
                            f"{f['p99_s']:.3f} s", f["p99_s"] < 1))  # fmt: skip
        end = f["after_poll_finished_p99_s"]
        checks.append(Check(f"Freshness at {n}: p99 from the end of the poll (store + API)",
                            "< 1 s", f"{end:.3f} s", end < 1))  # fmt: skip
    return checks


def _memory(results: dict[str, Any]) -> list[Check]:
    memory = results.get("memory")
    if not memory:
        return []
    size = f"{int(memory['stations']):,}"
    return [
        Check(f"Memory at {size}: {name} RSS", "< 200 MB", f"{mb:.0f} MB", mb < 200)
        for name, mb in memory["rss_mb"].items()
        if name != "demo"  # the demo upstreams are a test tool, not a fuelhub service
    ]


def checks(results: dict[str, Any]) -> list[Check]:
    return [*_apply(results), *_read(results), *_freshness(results), *_memory(results)]

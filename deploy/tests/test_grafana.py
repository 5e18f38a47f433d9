"""deploy/grafana/fuelhub.json: a dashboard Grafana loads, whose queries parse and name only
metrics that fuelhub's services export."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

DEPLOY = Path(__file__).resolve().parents[1]
DASHBOARD = DEPLOY / "grafana" / "fuelhub.json"
SCHEMA = Path(__file__).with_name("schemas") / "grafana-dashboard.minimal.schema.json"
EXTERNAL_SERIES = {"up", "rabbitmq_detailed_queue_messages"}
# The list: polls, records, change sets published/applied/dead-lettered, apply latency,
# event-to-commit lag, queue depth, API latency by route and status, tokens issued and refused.
MUST_SHOW = {
    "fuelhub_polls_total",
    "fuelhub_records_total",
    "fuelhub_records_rejected_total",
    "fuelhub_change_sets_published_total",
    "fuelhub_last_successful_poll_timestamp_seconds",
    "fuelhub_deletions_held",
    "fuelhub_store_messages_total",
    "fuelhub_store_apply_seconds_bucket",
    "fuelhub_store_event_commit_lag_seconds_bucket",
    "rabbitmq_detailed_queue_messages",
    "fuelhub_api_request_seconds_bucket",
    "fuelhub_api_request_seconds_count",
    "fuelhub_auth_tokens_issued_total",
    "fuelhub_auth_token_failures_total",
}


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _query_panels(dashboard) for t in p["targets"]]


def test_dashboard_matches_our_minimal_grafana_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(_dashboard(), schema)


def test_panel_ids_unique_and_layout_fits_the_grid() -> None:
    panels = _dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, f"panel {p['title']!r} runs off the 24-column grid"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['title']!r} overlaps another"
                cells.add((x, y))
    for p in _query_panels(_dashboard()):
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), f"duplicate refId in {p['title']!r}"


def test_panels_use_the_datasource_variable() -> None:
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for p in _query_panels(dashboard):
        assert p["datasource"]["uid"] == "${datasource}", p["title"]


def test_dashboard_names_only_exported_metrics(
    exported: set[str], metric_names_of: Callable[[str], set[str]]
) -> None:
    named = {name for expr in _exprs(_dashboard()) for name in metric_names_of(expr)}
    unknown = named - exported - EXTERNAL_SERIES
    assert not unknown, f"the dashboard names metrics no service exports: {sorted(unknown)}"
    missing = MUST_SHOW - named
    assert not missing, f"the dashboard does not show: {sorted(missing)}"


def test_every_query_parses_as_promql(
    tool: Callable[[str], str], sh: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    # promtool parses PromQL only inside rule files: one recording rule per query, with
    # Grafana's interval variables replaced by a fixed range.
    exprs = [
        e.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        for e in _exprs(_dashboard())
    ]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as handle:
        yaml.safe_dump(rules, handle)
        handle.flush()
        result = sh([tool("promtool"), "check", "rules", handle.name])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(exprs)} rules found" in result.stdout


def test_compose_provisioning_points_at_the_dashboard() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "fuelhub.yaml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana:{path}:ro" in mounts

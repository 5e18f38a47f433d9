"""Prometheus scrape configs and alert rules: promtool-valid, unit-tested, and naming only
metrics that exist."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[1] / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
EXTERNAL_SERIES = {"up", "rabbitmq_detailed_queue_messages"}

Run = Callable[..., subprocess.CompletedProcess[str]]


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_rules_pass_promtool_check(tool: Callable[[str], str], sh: Run) -> None:
    result = sh([tool("promtool"), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_when_they_should_and_only_then(tool: Callable[[str], str], sh: Run) -> None:
    # alerts.test.yml: promtool's unit tests, with series that must and must not alert.
    result = sh([tool("promtool"), "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_scrape_config_passes_promtool_check(tool: Callable[[str], str], sh: Run) -> None:
    result = sh([tool("promtool"), "check", "config", str(PROMETHEUS / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_scrape_config_is_structurally_sound() -> None:
    # Not `promtool check config`: Debian's promtool is built without kubernetes_sd_configs and
    # rejects the field. So: the shape by hand, and the rule file it loads is the checked one.
    config = yaml.safe_load((PROMETHEUS / "prometheus-k8s.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"fuelhub-pods", "rabbitmq-queues"}
    pods = jobs["fuelhub-pods"]
    assert pods["kubernetes_sd_configs"][0]["role"] == "pod"
    kept = {
        tuple(r["source_labels"]): r["regex"]
        for r in pods["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert kept[("__meta_kubernetes_pod_label_app_kubernetes_io_part_of",)] == "fuelhub"
    assert kept[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)] == "true"
    assert jobs["rabbitmq-queues"]["params"] == {"family": ["queue_coarse_metrics"]}


def test_required_alerts_exist_on_the_right_metrics(
    metric_names_of: Callable[[str], set[str]],
) -> None:
    by_name = {rule["alert"]: rule for rule in _rules() if "alert" in rule}
    required = {
        "FuelhubSourceNotPolled": "fuelhub_last_successful_poll_timestamp_seconds",
        "FuelhubDeadLetterQueueNotEmpty": "rabbitmq_detailed_queue_messages",
        "FuelhubDeletionsHeld": "fuelhub_deletions_held",
        "FuelhubApiErrorRatioHigh": "fuelhub_api_request_seconds_count",
    }
    for alert, metric in required.items():
        assert alert in by_name, f"missing alert {alert}"
        assert metric in metric_names_of(by_name[alert]["expr"]), (alert, metric)
    for alert, rule in by_name.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, alert
        assert rule["annotations"]["summary"], alert


def test_rules_name_only_exported_metrics(
    exported: set[str], metric_names_of: Callable[[str], set[str]]
) -> None:
    unknown = {
        (rule.get("alert") or rule.get("record"), name)
        for rule in _rules()
        for name in metric_names_of(rule["expr"])
        if name not in exported and name not in EXTERNAL_SERIES
    }
    assert not unknown, f"rules name metrics no service exports: {sorted(unknown)}"


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-k8s.yml"])
def test_external_queue_metrics_are_scraped(config: str) -> None:
    # The dead-letter alert reads RabbitMQ's per-queue series: a job must fetch them.
    jobs = yaml.safe_load((PROMETHEUS / config).read_text())["scrape_configs"]
    detailed = [
        job
        for job in jobs
        if job.get("metrics_path") == "/metrics/detailed"
        and "queue_coarse_metrics" in job.get("params", {}).get("family", [])
    ]
    assert detailed, f"{config}: no job scrapes RabbitMQ's per-queue metrics"

"""The helpers the dashboard and alert tests rely on: they must find what they claim to."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        (
            'sum by (source, outcome) (rate(fuelhub_polls_total{source="s1"}[$__rate_interval]))',
            {"fuelhub_polls_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(fuelhub_store_apply_seconds_bucket[5m])))",
            {"fuelhub_store_apply_seconds_bucket"},
        ),
        (
            "time() - fuelhub_last_successful_poll_timestamp_seconds > 26 * 3600",
            {"fuelhub_last_successful_poll_timestamp_seconds"},
        ),
        (
            'sum(rate(a_total{status=~"5.."}[5m])) / sum(rate(b_total[5m] offset 1h)) > 1e3',
            {"a_total", "b_total"},
        ),
        ('absent(x{source="by (le)"}) or absent(y)', {"x", "y"}),
        ("sum(rate(c_total[5m])) by (route) and on(job) d", {"c_total", "d"}),
    ],
)
def test_promql_metric_names(
    metric_names_of: Callable[[str], set[str]], expr: str, names: set[str]
) -> None:
    assert metric_names_of(expr) == names


def test_exported_series_follow_prometheus_client_naming(exported: set[str]) -> None:
    # Counters gain _total (declared with or without it), histograms _bucket/_sum/_count.
    assert "fuelhub_polls_total" in exported
    assert "fuelhub_store_messages_total" in exported
    assert "fuelhub_store_messages" not in exported
    assert "fuelhub_api_request_seconds_bucket" in exported
    assert "fuelhub_api_request_seconds" not in exported
    assert "fuelhub_deletions_held" in exported
    assert "fuelhub_last_successful_poll_timestamp_seconds" in exported

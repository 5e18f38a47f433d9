"""Fixtures of the deployment tests: the repository, the tools they need, rendered overlays and
the metric names the services export.

A tool that is missing makes its tests fail with the line that installs it: none of them is
skipped (every tool used here is installable on the development machine and in CI).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")

INSTALL_HINTS = {
    "docker-compose": "apt-get install -y docker-compose",
    "promtool": "apt-get install -y prometheus   (Debian's package ships promtool)",
    "kubectl": "apt-get install -y kubectl   (or kubernetes-client; `kubectl kustomize` renders)",
}

# Metric declarations in the services' source: Counter("name", ...), Histogram(\n "name", ...).
_DECLARATION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
# The series each kind of prometheus_client metric exposes.
_SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
}
SOURCE_ROOTS = ("libs", "services", "deploy/demo-sources")


def require_tool(name: str) -> str:
    """The tool's path, or a test failure that says how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; install it with: {INSTALL_HINTS[name]}")
    return path


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)


def declared_metrics() -> dict[str, str]:
    """Metric name -> kind, for every metric declared in the services' and libraries' source."""
    found: dict[str, str] = {}
    for root in SOURCE_ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            if "tests" in path.relative_to(REPO).parts or ".venv" in path.parts:
                continue
            for kind, name in _DECLARATION.findall(path.read_text(encoding="utf-8")):
                found[name] = kind
    return found


def exported_series(declared: dict[str, str]) -> set[str]:
    """The series names Prometheus sees for these declarations (prometheus_client's rules)."""
    series: set[str] = set()
    for name, kind in declared.items():
        base = name.removesuffix("_total") if kind == "Counter" else name
        series.update(base + suffix for suffix in _SUFFIXES[kind])
    return series


@pytest.fixture(scope="session")
def exported() -> set[str]:
    declared = declared_metrics()
    assert len(declared) >= 15, f"found too few metric declarations: {sorted(declared)}"
    return exported_series(declared)


def render_overlay(name: str) -> list[dict[str, Any]]:
    """The overlay rendered by kustomize (kubectl's built-in one), as a list of objects."""
    kustomize = shutil.which("kustomize")
    if kustomize is not None:
        args = [kustomize, "build", str(K8S / "overlays" / name)]
    else:
        args = [require_tool("kubectl"), "kustomize", str(K8S / "overlays" / name)]
    result = run(args)
    assert result.returncode == 0, f"kustomize failed for overlay {name}:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render_overlay(name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def find() -> Callable[[list[dict[str, Any]], str, str], dict[str, Any]]:
    def lookup(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
        matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
        return matches[0]

    return lookup


_PROMQL_WORDS = {
    # aggregation operators, modifiers, set and comparison keywords
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_IDENT = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    text = _OFFSET.sub("", text)
    names: set[str] = set()
    for ident, call in _IDENT.findall(text):
        if call or ident.lower() in _PROMQL_WORDS:
            continue
        names.add(ident)
    return names


# Series that no fuelhub service exports, and where they come from instead. Anything else a
# dashboard or an alert names must be exported by a service (checked against the source).
EXTERNAL_SERIES = {
    "up": "Prometheus itself (one per scrape target)",
    "rabbitmq_detailed_queue_messages": (
        "RabbitMQ's rabbitmq_prometheus plugin, /metrics/detailed?family=queue_coarse_metrics"
    ),
}


@pytest.fixture(scope="session")
def metric_names_of() -> Callable[[str], set[str]]:
    return promql_metric_names


@pytest.fixture(scope="session")
def tool() -> Callable[[str], str]:
    return require_tool


@pytest.fixture(scope="session")
def sh() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run


def settings_names() -> set[str]:
    """Every environment variable a fuelhub settings class reads (names and aliases)."""
    from fuelhub_api.settings import Settings as ApiSettings
    from fuelhub_auth.settings import AuthSettings
    from fuelhub_demo_sources.settings import DemoSettings
    from fuelhub_ingest_source1.settings import Source1Settings
    from fuelhub_ingest_source2.settings import Source2Settings
    from fuelhub_store.admin.settings import AdminSettings
    from fuelhub_store.settings import StoreSettings
    from pydantic import AliasChoices

    names: set[str] = set()
    for cls in (
        AdminSettings, ApiSettings, AuthSettings, DemoSettings, Source1Settings, Source2Settings,
        StoreSettings,
    ):  # fmt: skip
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        for field_name, field in cls.model_fields.items():
            names.add(prefix + field_name.upper())
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(choice).upper() for choice in alias.choices)
            elif isinstance(alias, str):
                names.add(alias.upper())
    return names


@pytest.fixture(scope="session")
def known_settings() -> set[str]:
    names = settings_names()
    assert {"BROKER_URL", "DATABASE_URL", "SOURCE1_URL", "DEMO_PORT", "API_DATABASE_URL"} <= names
    return names

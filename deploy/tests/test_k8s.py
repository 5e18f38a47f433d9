"""deploy/k8s: the overlays render with kustomize; every object is schema-valid (core kinds with
kubernetes-validate, operator kinds with our own minimal schemas); and the manifests say what
docs/operations.md promises (replicas, probes, budgets, routing, network policies, backups)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1]
K8S = DEPLOY / "k8s"
SCHEMAS = Path(__file__).with_name("schemas")
# The oldest Kubernetes fuelhub supports and a current one.
K8S_VERSIONS = ("1.30.0", "1.34.0")
# Operator resources: validated with fuelhub's OWN minimal schemas (named as such), since the
# operators' CRDs are not available offline.
OPERATOR_SCHEMAS = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg-cluster.minimal.schema.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "cnpg-scheduledbackup.minimal.schema.json",
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster.minimal.schema.json",
}
OVERLAYS = ("dev", "prod")
Objects = list[dict[str, Any]]
Find = Callable[[Objects, str, str], dict[str, Any]]

# Settings a fuelhub process reads but that no settings class declares yet (none now).
PENDING_SETTINGS: dict[str, str] = {}
# Variables set only to build another one with $(NAME) (BROKER_URL from the operator's secret).
HELPER_VARIABLES = {"RABBITMQ_USERNAME", "RABBITMQ_PASSWORD"}


def _of_kind(objects: Objects, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _pod_specs(objects: Objects) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in objects:
        if o["kind"] in {"Deployment", "Job"}:
            yield o["metadata"]["name"], o["spec"]["template"]


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are used: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# --- rendering and schemas ----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(rendered: dict[str, Objects], overlay: str) -> None:
    kinds = {o["kind"] for o in rendered[overlay]}
    assert {
        "Namespace", "ConfigMap", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "NetworkPolicy", "Job", "Cluster", "ScheduledBackup",
        "RabbitmqCluster",
    } <= kinds  # fmt: skip
    namespaces = {
        o["metadata"].get("namespace") for o in rendered[overlay] if o["kind"] != "Namespace"
    }
    assert namespaces == {"fuelhub-dev" if overlay == "dev" else "fuelhub"}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_objects_are_schema_valid(
    rendered: dict[str, Objects], overlay: str, version: str
) -> None:
    failures = []
    for o in rendered[overlay]:
        if (o["apiVersion"], o["kind"]) in OPERATOR_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(o, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(
                f"{o['kind']}/{o['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )
        except kubernetes_validate.SchemaNotFoundError:
            failures.append(f"{o['kind']}/{o['metadata']['name']}: no schema for {o['apiVersion']}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_operator_objects_match_our_minimal_schemas(
    rendered: dict[str, Objects], overlay: str
) -> None:
    seen = set()
    for o in rendered[overlay]:
        key = (o["apiVersion"], o["kind"])
        if key not in OPERATOR_SCHEMAS:
            continue
        seen.add(key)
        schema = json.loads((SCHEMAS / OPERATOR_SCHEMAS[key]).read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(o, schema)
    assert seen == set(OPERATOR_SCHEMAS)


def test_our_operator_schemas_reject_mistakes(rendered: dict[str, Objects], find: Find) -> None:
    # The minimal schemas must catch what matters: a misspelt field, a 5-field cron.
    cluster = json.loads(json.dumps(find(rendered["prod"], "Cluster", "fuelhub-db")))
    cluster["spec"]["backup"]["barmanObjectStore"]["destinationPth"] = "s3://x"
    schema = json.loads((SCHEMAS / "cnpg-cluster.minimal.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cluster, schema)
    backup = json.loads(json.dumps(find(rendered["prod"], "ScheduledBackup", "fuelhub-db-nightly")))
    backup["spec"]["schedule"] = "0 2 * * *"
    schema = json.loads((SCHEMAS / "cnpg-scheduledbackup.minimal.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(backup, schema)


def test_secret_templates_are_valid_and_hold_no_value() -> None:
    templates = sorted((K8S / "secrets").glob("*.yaml"))
    assert len(templates) >= 2
    for path in templates:
        for o in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(o, K8S_VERSIONS[-1], strict=True)
            assert o["kind"] == "Secret"
            assert "data" not in o, f"{path.name}: base64 data committed"
            assert all(v == "" for v in o["stringData"].values()), f"{path.name} holds a value"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_rendered(rendered: dict[str, Objects], overlay: str) -> None:
    # Secrets come from the operators and from the operator of the cluster, never from git.
    assert not _of_kind(rendered[overlay], "Secret")


# --- workloads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_probes_resources_and_runs_unprivileged(
    rendered: dict[str, Objects], overlay: str
) -> None:
    for name, pod in _pod_specs(rendered[overlay]):
        spec = pod["spec"]
        # The "restricted" Pod Security profile's requirements.
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec.get("automountServiceAccountToken") is False, name
        for c in _containers(pod):
            where = f"{name}/{c['name']}"
            assert c["resources"]["requests"]["memory"], where
            assert c["resources"]["limits"]["memory"], where
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], where
            if c["image"].endswith(("demo-sources:dev",)) or spec.get("restartPolicy") == "Never":
                continue
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_metrics_annotations_name_the_container_port(
    rendered: dict[str, Objects], overlay: str
) -> None:
    for name, pod in _pod_specs(rendered[overlay]):
        annotations = pod["metadata"].get("annotations", {})
        if "prometheus.io/port" not in annotations:
            assert name in {"fuelhub-migrate", "fuelhub-demo-sources"}, f"{name} is not scraped"
            continue
        ports = {p["containerPort"] for c in _containers(pod) for p in c.get("ports", [])}
        assert int(annotations["prometheus.io/port"]) in ports, name
        env = {e["name"]: e.get("value") for c in _containers(pod) for e in c.get("env", [])}
        assert env["HTTP_PORT"] == annotations["prometheus.io/port"], name


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ("dev", {"fuelhub-ingest-source1": 1, "fuelhub-ingest-source2": 1, "fuelhub-store": 1,
                 "fuelhub-store-admin": 1, "fuelhub-auth": 1, "fuelhub-demo-sources": 1}),
        ("prod", {"fuelhub-ingest-source1": 1, "fuelhub-ingest-source2": 1, "fuelhub-store": 3,
                  "fuelhub-store-admin": 2, "fuelhub-auth": 3}),
    ],
)  # fmt: skip
def test_replicas_per_service(
    rendered: dict[str, Objects], overlay: str, expected: dict[str, int]
) -> None:
    deployments = {d["metadata"]["name"]: d for d in _of_kind(rendered[overlay], "Deployment")}
    assert set(deployments) == set(expected) | {"fuelhub-api"}
    for name, count in expected.items():
        assert deployments[name]["spec"]["replicas"] == count, name
    # The API's count belongs to its HPA alone.
    assert "replicas" not in deployments["fuelhub-api"]["spec"]


@pytest.mark.parametrize(("overlay", "bounds"), [("dev", (1, 3)), ("prod", (3, 20))])
def test_api_autoscales(
    rendered: dict[str, Objects], find: Find, overlay: str, bounds: tuple[int, int]
) -> None:
    hpa = find(rendered[overlay], "HorizontalPodAutoscaler", "fuelhub-api")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "fuelhub-api",
    }  # fmt: skip
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == bounds
    find(rendered[overlay], "Deployment", "fuelhub-api")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_never_block_a_drain(
    rendered: dict[str, Objects], find: Find, overlay: str
) -> None:
    objects = rendered[overlay]
    hpa = find(objects, "HorizontalPodAutoscaler", "fuelhub-api")
    budgets = _of_kind(objects, "PodDisruptionBudget")
    assert {b["metadata"]["name"] for b in budgets} == {
        "fuelhub-api", "fuelhub-auth", "fuelhub-store", "fuelhub-store-admin",
    }  # fmt: skip
    for budget in budgets:
        targets = [
            d for d in _of_kind(objects, "Deployment")
            if _selects(budget["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]  # fmt: skip
        assert len(targets) == 1, budget["metadata"]["name"]
        deployment = targets[0]
        replicas = deployment["spec"].get("replicas", hpa["spec"]["minReplicas"])
        if "minAvailable" in budget["spec"]:
            assert budget["spec"]["minAvailable"] < replicas, budget["metadata"]["name"]
        else:
            assert budget["spec"]["maxUnavailable"] >= 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_pods_and_ports(rendered: dict[str, Objects], overlay: str) -> None:
    objects = rendered[overlay]
    for service in _of_kind(objects, "Service"):
        pods = [
            d["spec"]["template"] for d in _of_kind(objects, "Deployment")
            if _selects({"matchLabels": service["spec"]["selector"]},
                        d["spec"]["template"]["metadata"]["labels"])
        ]  # fmt: skip
        assert len(pods) == 1, service["metadata"]["name"]
        names = {p["name"] for c in _containers(pods[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, service["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_environment_names_are_settings_the_services_read(
    rendered: dict[str, Objects], find: Find, overlay: str, known_settings: set[str]
) -> None:
    config = find(rendered[overlay], "ConfigMap", "fuelhub-config")
    unknown = set(config["data"]) - known_settings - set(PENDING_SETTINGS)
    assert not unknown, f"ConfigMap keys no settings class reads: {sorted(unknown)}"
    for name, pod in _pod_specs(rendered[overlay]):
        for c in _containers(pod):
            defined: set[str] = set()
            for e in c.get("env", []):
                assert e["name"] in known_settings | HELPER_VARIABLES, f"{name}: {e['name']}"
                for ref in re.findall(r"\$\(([A-Z_]+)\)", e.get("value", "")):
                    assert ref in defined, f"{name}: $({ref}) used before it is defined"
                defined.add(e["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_referenced_are_the_documented_ones(
    rendered: dict[str, Objects], overlay: str
) -> None:
    documented = (K8S / "secrets" / "README.md").read_text()
    for name, pod in _pod_specs(rendered[overlay]):
        for c in _containers(pod):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert f"`{ref['name']}`" in documented, f"{name}: {ref['name']}"
                    assert f"`{ref['key']}`" in documented, f"{name}: {ref['key']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_in_a_job_not_on_start(
    rendered: dict[str, Objects], find: Find, overlay: str
) -> None:
    objects = rendered[overlay]
    job = find(objects, "Job", "fuelhub-migrate")
    pod = job["spec"]["template"]["spec"]
    steps = [
        (c["image"].split("/")[-1].split(":")[0], c["args"])
        for c in _containers(job["spec"]["template"])
    ]
    assert steps == [("fuelhub-store", ["migrate"]), ("fuelhub-auth", ["migrate"])]
    assert pod["restartPolicy"] == "Never"
    config = find(objects, "ConfigMap", "fuelhub-config")["data"]
    assert config["STORE_MIGRATE_ON_START"] == "false"
    assert config["AUTH_MIGRATE_ON_START"] == "false"
    assert config["ADMIN_MIGRATE_ON_START"] == "false"
    # Same image tags as the Deployments: the Job migrates to the schema the rollout needs.
    images = {c["image"] for _, p in _pod_specs(objects) for c in _containers(p)}
    for c in _containers(job["spec"]["template"]):
        assert c["image"] in images


# --- stateful parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("overlay", "instances"), [("dev", 1), ("prod", 3)])
def test_postgres_and_rabbitmq_clusters(
    rendered: dict[str, Objects], find: Find, overlay: str, instances: int
) -> None:
    objects = rendered[overlay]
    db = find(objects, "Cluster", "fuelhub-db")
    assert db["spec"]["instances"] == instances
    assert db["spec"]["bootstrap"]["initdb"] == {"database": "fuelhub", "owner": "fuelhub"}
    store = db["spec"]["backup"]["barmanObjectStore"]
    assert store["s3Credentials"]["accessKeyId"]["name"] == "fuelhub-backup-s3"
    backup = find(objects, "ScheduledBackup", "fuelhub-db-nightly")
    assert backup["spec"]["cluster"]["name"] == "fuelhub-db"
    assert backup["spec"]["method"] == "barmanObjectStore"
    rabbit = find(objects, "RabbitmqCluster", "fuelhub-rabbitmq")
    assert rabbit["spec"]["replicas"] == instances
    assert rabbit["spec"]["replicas"] % 2 == 1, "quorum queues need an odd number of nodes"
    assert "rabbitmq_prometheus" in rabbit["spec"]["rabbitmq"]["additionalPlugins"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_point_at_the_operators_resources(
    rendered: dict[str, Objects], overlay: str
) -> None:
    # DATABASE_URL from CNPG's <cluster>-app secret; BROKER_URL from the operator's
    # <cluster>-default-user secret and its <cluster> Service.
    for name, pod in _pod_specs(rendered[overlay]):
        for c in _containers(pod):
            env = {e["name"]: e for e in c.get("env", [])}
            if "DATABASE_URL" in env:
                ref = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
                assert ref == {"name": "fuelhub-db-app", "key": "uri"}, name
            if "BROKER_URL" in env:
                assert "@fuelhub-rabbitmq:5672/" in env["BROKER_URL"]["value"], name
                user = env["RABBITMQ_USERNAME"]["valueFrom"]["secretKeyRef"]["name"]
                assert user == "fuelhub-rabbitmq-default-user", name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rollout_stages_select_what_the_procedure_needs(
    rendered: dict[str, Objects], overlay: str
) -> None:
    # docs/operations.md applies `-l fuelhub.io/stage=platform`, then
    # `-l app.kubernetes.io/component=migration`, then everything.
    objects = rendered[overlay]
    platform = [
        o for o in objects if o["metadata"].get("labels", {}).get("fuelhub.io/stage") == "platform"
    ]
    kinds = {o["kind"] for o in platform}
    assert kinds == {
        "Namespace", "ConfigMap", "NetworkPolicy", "Cluster", "ScheduledBackup", "RabbitmqCluster",
    }  # fmt: skip
    policies = _of_kind(objects, "NetworkPolicy")
    assert len(_of_kind(platform, "NetworkPolicy")) == len(policies)
    migration = [
        o for o in objects
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "migration"
    ]  # fmt: skip
    assert [(o["kind"], o["metadata"]["name"]) for o in migration] == [("Job", "fuelhub-migrate")]

"""Network paths in deploy/k8s: the NetworkPolicies let through exactly what must talk, and the
Ingress routes like the gateway (deploy/gateway/nginx.conf.template)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

GATEWAY_TEMPLATE = Path(__file__).resolve().parents[1] / "gateway" / "nginx.conf.template"
Objects = list[dict[str, Any]]


@dataclass(frozen=True)
class Peer:
    """A pod (namespace + labels) or an address outside the cluster (ip)."""

    name: str
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = ""


def _matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_matches(rule_peer: dict[str, Any], peer: Peer, policy_namespace: str) -> bool:
    if "ipBlock" in rule_peer:
        if not peer.ip:
            return False
        address = ipaddress.ip_address(peer.ip)
        block = rule_peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if not peer.namespace:
        return False
    if "namespaceSelector" in rule_peer:
        namespace_labels = {"kubernetes.io/metadata.name": peer.namespace}
        if not _matches(rule_peer["namespaceSelector"], namespace_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return _matches(rule_peer.get("podSelector"), peer.labels)


def _port_matches(rule_ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    return any(
        p.get("protocol", "TCP") == protocol
        and (p["port"] == port or (p.get("endPort") and p["port"] <= port <= p["endPort"]))
        for p in rule_ports
    )


def _direction_allows(
    policies: list[dict[str, Any]], subject: Peer, other: Peer, port: int, protocol: str,
    direction: str,
) -> bool:  # fmt: skip
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    relevant = [
        p for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and direction in p["spec"]["policyTypes"]
        and _matches(p["spec"]["podSelector"], subject.labels)
    ]  # fmt: skip
    if not relevant:
        return True  # not isolated in this direction
    for policy in relevant:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                _peer_matches(p, other, policy["metadata"]["namespace"]) for p in peers
            )
            if peer_ok and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def allowed(objects: Objects, src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> bool:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    return _direction_allows(policies, src, dst, port, protocol, "Egress") and _direction_allows(
        policies, dst, src, port, protocol, "Ingress"
    )


def _peers(objects: Objects) -> dict[str, Peer]:
    namespace = next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")
    peers = {
        o["metadata"]["name"].removeprefix("fuelhub-"): Peer(
            o["metadata"]["name"], namespace, o["spec"]["template"]["metadata"]["labels"]
        )
        for o in objects
        if o["kind"] in {"Deployment", "Job"}
    }
    # Pods the operators make, with the labels they put on them.
    peers["db"] = Peer(
        "postgres", namespace, {"cnpg.io/cluster": "fuelhub-db", "cnpg.io/instanceRole": "primary"}
    )
    peers["rabbitmq"] = Peer("rabbitmq", namespace, {
        "app.kubernetes.io/name": "fuelhub-rabbitmq", "app.kubernetes.io/component": "rabbitmq",
        "app.kubernetes.io/part-of": "rabbitmq",
    })  # fmt: skip
    peers["ingress"] = Peer(
        "ingress-nginx", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}
    )
    peers["prometheus"] = Peer("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
    peers["dns"] = Peer("coredns", "kube-system", {"k8s-app": "kube-dns"})
    peers["cnpg-operator"] = Peer(
        "cnpg", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}
    )
    peers["rabbitmq-operator"] = Peer(
        "rmq-op", "rabbitmq-system", {"app.kubernetes.io/name": "rabbitmq-cluster-operator"}
    )
    peers["internet"] = Peer("upstream", ip="203.0.113.10")
    peers["other-namespace"] = Peer("stranger", "other", {"app.kubernetes.io/name": "api"})
    return peers


APPS = ("api", "auth", "store", "store-admin", "ingest-source1", "ingest-source2", "migrate")
MUST_TALK = [
    ("ingress", "api", 8002), ("ingress", "auth", 8001), ("ingress", "store-admin", 8003),
    ("api", "auth", 8001), ("api", "db", 5432), ("store-admin", "auth", 8001),
    ("store-admin", "db", 5432), ("auth", "db", 5432), ("migrate", "db", 5432),
    ("store", "db", 5432), ("store", "rabbitmq", 5672), ("store-admin", "rabbitmq", 5672),
    ("ingest-source1", "rabbitmq", 5672), ("ingest-source2", "rabbitmq", 5672),
    ("ingest-source1", "internet", 443), ("ingest-source2", "internet", 443),
    ("prometheus", "api", 8002), ("prometheus", "auth", 8001), ("prometheus", "store", 8013),
    ("prometheus", "store-admin", 8003), ("prometheus", "ingest-source1", 8011),
    ("prometheus", "ingest-source2", 8012), ("prometheus", "rabbitmq", 15692),
    ("db", "db", 5432), ("cnpg-operator", "db", 8000),
    ("rabbitmq", "rabbitmq", 25672), ("rabbitmq", "rabbitmq", 4369),
    ("rabbitmq-operator", "rabbitmq", 15672),
]  # fmt: skip
MUST_NOT_TALK = [
    ("ingest-source1", "db", 5432), ("ingest-source2", "db", 5432), ("api", "rabbitmq", 5672),
    ("auth", "rabbitmq", 5672), ("ingress", "store", 8013),
    ("ingress", "db", 5432), ("ingress", "rabbitmq", 5672), ("ingress", "ingest-source1", 8011),
    ("api", "internet", 443), ("store", "internet", 443), ("auth", "internet", 443),
    ("migrate", "rabbitmq", 5672), ("api", "ingest-source2", 8012), ("api", "store", 8013),
    ("internet", "api", 8002), ("other-namespace", "db", 5432),
    ("other-namespace", "auth", 8001), ("prometheus", "db", 5432),
    ("ingest-source1", "api", 8002), ("store", "auth", 8001), ("ingest-source1", "internet", 5432),
]  # fmt: skip


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_what_must_talk_can(rendered: dict[str, Objects], overlay: str) -> None:
    peers = _peers(rendered[overlay])
    blocked = [
        (s, d, port) for s, d, port in MUST_TALK
        if not allowed(rendered[overlay], peers[s], peers[d], port)
    ]  # fmt: skip
    for app in APPS:
        if not allowed(rendered[overlay], peers[app], peers["dns"], 53, "UDP"):
            blocked.append((app, "dns", 53))
    assert not blocked, f"blocked paths that must be open: {blocked}"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_nothing_else_talks(rendered: dict[str, Objects], overlay: str) -> None:
    peers = _peers(rendered[overlay])
    open_paths = [
        (s, d, port) for s, d, port in MUST_NOT_TALK
        if allowed(rendered[overlay], peers[s], peers[d], port)
    ]  # fmt: skip
    assert not open_paths, f"open paths that must be closed: {open_paths}"


def test_dev_ingestors_reach_the_demo_sources_and_nothing_else_does(
    rendered: dict[str, Objects],
) -> None:
    objects = rendered["dev"]
    peers = _peers(objects)
    for ingestor in ("ingest-source1", "ingest-source2"):
        assert allowed(objects, peers[ingestor], peers["demo-sources"], 9001)
    for other in ("api", "store", "ingress"):
        assert not allowed(objects, peers[other], peers["demo-sources"], 9001), other
    assert not allowed(objects, peers["demo-sources"], peers["db"], 5432)


# --- Ingress and gateway ------------------------------------------------------------------------

GATEWAY_UPSTREAMS = {"auth": "fuelhub-auth", "api": "fuelhub-api", "admin": "fuelhub-store-admin"}
_LOCATION = re.compile(r"location\s+(=\s+)?(\S+)\s*\{(.*?)\n\s{8}\}", re.S)


def _gateway_routes() -> dict[tuple[str, str], str]:
    routes = {}
    for exact, path, body in _LOCATION.findall(GATEWAY_TEMPLATE.read_text()):
        upstream = re.search(r"proxy_pass\s+http://(\w+);", body)
        if upstream is None:
            continue  # answered by the gateway itself (health, 404)
        kind = "Exact" if exact else "Prefix"
        routes[(kind, path if exact else path.rstrip("/") or "/")] = GATEWAY_UPSTREAMS[upstream[1]]
    return routes


def _ingress_routes(objects: Objects) -> dict[tuple[str, str], str]:
    routes = {}
    for ingress in (o for o in objects if o["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                key = (p["pathType"], p["path"])
                assert key not in routes, f"path routed twice: {key}"
                routes[key] = p["backend"]["service"]["name"]
    return routes


def _route(routes: dict[tuple[str, str], str], url: str) -> str | None:
    """The backend an ingress controller picks: an Exact match, else the longest Prefix."""
    if ("Exact", url) in routes:
        return routes[("Exact", url)]
    best = None
    for (kind, path), backend in routes.items():
        under = url == path or url.startswith(path.rstrip("/") + "/")
        if kind == "Prefix" and under and (best is None or len(path) > len(best[0])):
            best = (path, backend)
    return best[1] if best else None


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_ingress_routes_like_the_gateway(rendered: dict[str, Objects], overlay: str) -> None:
    gateway = _gateway_routes()
    assert len(gateway) >= 8, f"could not read the gateway's locations: {gateway}"
    assert _ingress_routes(rendered[overlay]) == gateway


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("/api/v1/token/", "fuelhub-auth"),
        ("/api/v1/token/refresh/", "fuelhub-auth"),
        ("/oauth/token", "fuelhub-auth"),
        ("/.well-known/jwks.json", "fuelhub-auth"),
        ("/accounts/users", "fuelhub-auth"),
        ("/api/v1/stations/", "fuelhub-api"),
        ("/api/v1/token/other", "fuelhub-api"),
        ("/api/v2/stations", "fuelhub-api"),
        ("/api/v2/changes", "fuelhub-api"),
        ("/admin", "fuelhub-store-admin"),
        ("/admin/stations/1", "fuelhub-store-admin"),
        ("/media/icons/a.png", "fuelhub-store-admin"),
        ("/metrics", None),
        ("/", None),
    ],
)
def test_ingress_sends_each_url_to_its_service(
    rendered: dict[str, Objects], url: str, backend: str | None
) -> None:
    assert _route(_ingress_routes(rendered["prod"]), url) == backend


def test_server_sent_events_are_not_buffered(rendered: dict[str, Objects]) -> None:
    sse = next(
        o
        for o in rendered["prod"]
        if o["kind"] == "Ingress" and o["metadata"]["name"] == "fuelhub-sse"
    )
    annotations = sse["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600

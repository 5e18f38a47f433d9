"""Prometheus metrics of one auth app (its own registry, so apps in tests don't share counts)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class AuthMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tokens_issued = Counter(
            "fuelhub_auth_tokens_issued",
            "Tokens issued, by grant (password, refresh_token, client_credentials).",
            ["grant"],
            registry=self.registry,
        )
        self.failures = Counter(
            "fuelhub_auth_token_failures",
            "Refused token requests, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.password_hashes = Counter(
            "fuelhub_auth_password_hashes",
            "argon2id computations (verify or hash), the costly part a limiter must protect.",
            ["operation"],
            registry=self.registry,
        )

    def hashes_computed(self) -> float:
        """Total argon2 computations so far (tests use it to prove throttling skips them)."""
        return sum(
            sample.value
            for metric in self.password_hashes.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )

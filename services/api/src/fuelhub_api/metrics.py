"""Request latency by route template and status, as a pure ASGI middleware (cheap per call)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def request_latency(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "fuelhub_api_request_seconds",
        "Time to answer an HTTP request, by route template, method and status.",
        ("route", "method", "status"),
        registry=registry,
        buckets=BUCKETS,
    )


class LatencyByRoute:
    """The histogram's children for GET answers, bound once (``labels`` costs per call)."""

    def __init__(self, latency: Histogram) -> None:
        self._latency = latency
        self._children: dict[tuple[str, int], Any] = {}

    def observe_get(self, route: str, status: int, seconds: float) -> None:
        child = self._children.get((route, status))
        if child is None:
            child = self._children[(route, status)] = self._latency.labels(route, "GET", status)
        child.observe(seconds)


class RequestMetrics:
    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.latency.labels(template, scope["method"], str(status)).observe(
                time.perf_counter() - start
            )

"""The small HTTP port every process has: ``/healthz``, ``/readyz`` and ``/metrics``.

Services that already serve HTTP mount :func:`health_routes` on their own app; worker processes
(ingestors, the store's consumer) run :class:`HealthServer` beside their work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[bool]]

log = logging.getLogger(__name__)


def health_routes(
    checks: Mapping[str, ReadinessCheck], registry: CollectorRegistry = REGISTRY
) -> APIRouter:
    """Routes for liveness, readiness (every check must pass) and Prometheus metrics."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = await asyncio.wait_for(check(), timeout=2.0)
            except Exception:  # a failing dependency check means "not ready", never a 500
                results[name] = False
        ready = all(results.values())
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "not ready", "checks": results}

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


class HealthServer:
    """Serves the health routes on ``host:port`` inside the running event loop."""

    def __init__(self, host: str, port: int, checks: Mapping[str, ReadinessCheck]) -> None:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.include_router(health_routes(checks))
        config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off")
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when 0 asked for a free one)."""
        servers = self._server.servers
        if not servers:
            raise RuntimeError("health server not started")
        return int(servers[0].sockets[0].getsockname()[1])

    async def start(self) -> None:
        # _serve, not serve: the process handles SIGTERM itself, uvicorn must not capture it.
        self._task = asyncio.create_task(self._server._serve())
        while not self._server.started:
            if self._task.done():
                # uvicorn logs the cause (e.g. the port is taken) and exits; say it in one line.
                with contextlib.suppress(BaseException):
                    self._task.result()
                raise SystemExit(
                    f"cannot serve the health port on {self._server.config.host}:"
                    f"{self._server.config.port}; is another process using it? (HTTP_PORT)"
                )
            await asyncio.sleep(0.01)
        log.info("health port listening", extra={"port": self.port})

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task

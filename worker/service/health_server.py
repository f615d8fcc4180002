"""The worker's HTTP endpoint: /metrics (Prometheus text, by prometheus_client), /healthz, /readyz.

- /healthz: 200 while the process and its event loop run (liveness).
- /readyz: 200 when the database answers and its schema is the one this
  Rapport needs; 503 with the reason otherwise (readiness).
- /metrics: the worker's counters, plus gauges read from the store on each
  scrape (mailboxes by status, lag, consent); if the store cannot be read
  the last values stay and `rapport_database_up` is 0.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest
from sqlalchemy.engine import Engine

from storage import migrate
from storage.service_status import load_store_state
from worker.log import get_logger
from worker.service.metrics import ServiceMetrics
from worker.service.scheduler import Clock

log = get_logger("rapport.health")
STORE_TIMEOUT = 5.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes


def readiness(engine: Engine) -> str | None:
    """None when ready, else why not (no secrets: the URL is never part of it)."""
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        return f"database unreachable: {type(error).__name__}"
    if current != head:
        return f"schema is at {current or 'nothing'}, this Rapport needs {head}"
    return None


class HealthServer:
    def __init__(
        self, engine: Engine, metrics: ServiceMetrics, clock: Clock, host: str, port: int
    ) -> None:
        self.engine, self.metrics, self.clock = engine, metrics, clock
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    async def start(self) -> int:
        """Listen; return the port (useful when 0 asked for any free one)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        address: Any = self._runner.addresses[0]
        return int(address[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(self, _request: web.Request) -> web.Response:
        try:
            problem = await asyncio.wait_for(
                asyncio.to_thread(readiness, self.engine), STORE_TIMEOUT
            )
        except TimeoutError:
            problem = f"database did not answer within {STORE_TIMEOUT:g} s"
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": problem}, status=503)

    async def metrics_page(self, _request: web.Request) -> web.Response:
        try:
            state = await asyncio.wait_for(
                asyncio.to_thread(load_store_state, self.engine, self.clock.now()), STORE_TIMEOUT
            )
            self.metrics.apply_store_state(state)
        except Exception as error:  # noqa: BLE001 - a scrape must answer even without the store
            log.warning("metrics: store not readable", error=type(error).__name__)
            self.metrics.store_unreadable()
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

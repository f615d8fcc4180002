"""The emulator server: one aiohttp application on two loopback listeners.

- HTTPS (trustme CA): what azure-identity needs for the token service; Graph is served too.
- HTTP: Graph only in practice; kiota accepts http:// for 127.0.0.1, and skipping TLS keeps
  the Graph path fast for benchmarks.
Both listeners serve the same routes, so either base URL works for Graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from emulator import batch, calendar, mail, users
from emulator.admin import TenantAdmin
from emulator.admin_routes import add_admin_routes
from emulator.faults import FaultPlan
from emulator.fixture import Fixture
from emulator.front import graph_handler, sign_in_routes, token_routes
from emulator.loopback import LOOPBACK, LoopbackServer, LoopbackService
from emulator.pipeline import GraphService
from emulator.routing import Router
from emulator.signin import SignInService
from emulator.state import TenantState
from emulator.stats import Stats
from emulator.tokens import TokenService


def build_router() -> Router:
    router = Router()
    for module in (users, mail, calendar, batch):
        module.register(router)
    return router


class Emulator(LoopbackService, TenantAdmin):
    """A running (after `start()`) Graph + Entra ID emulator for one tenant fixture."""

    def __init__(
        self,
        fixture: Fixture,
        *,
        port: int = 0,
        http_port: int = 0,
        workdir: Path | None = None,
        seed: int = 0,
        token_lifetime: int = 3599,
        concurrency_limit: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        state = TenantState(fixture)
        super().__init__(state, FaultPlan(seed), Stats())
        self.fixture = fixture
        self.tokens = TokenService(fixture.tenant, state.apps, lifetime=token_lifetime, clock=clock)
        self.sign_in = SignInService(self.tokens, fixture, clock=clock)
        self.graph = GraphService(
            state,
            self.tokens,
            build_router(),
            self.faults,
            self.stats,
            concurrency_limit=concurrency_limit,
        )
        self._requested_ports = (port, http_port)
        self._server = LoopbackServer(workdir, "rapport-emulator-")
        self.port = 0
        self.http_port = 0

    # -- addresses ---------------------------------------------------------------
    @property
    def authority(self) -> str:
        """Pass as `authority=` to azure-identity credentials."""
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def graph_url(self) -> str:
        """Graph v1.0 base URL (plain HTTP listener), no trailing slash."""
        return f"http://{LOOPBACK}:{self.http_port}/v1.0"

    @property
    def https_graph_url(self) -> str:
        return f"{self.authority}/v1.0"

    @property
    def admin_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}/_emulator"

    @property
    def tenant_id(self) -> str:
        return self.fixture.tenant.id

    # -- lifecycle ---------------------------------------------------------------
    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_routes(token_routes(self.tokens, self.stats))
        app.router.add_routes(sign_in_routes(self.sign_in))
        add_admin_routes(app, self)
        app.router.add_route("*", "/v1.0{tail:.*}", graph_handler(self.graph))
        return app

    async def start(self) -> None:
        await self._server.start(self.web_app())
        self.port = await self._server.listen(self._requested_ports[0])
        self.http_port = await self._server.listen(self._requested_ports[1], tls=False)

    async def stop(self) -> None:
        await self._server.stop()

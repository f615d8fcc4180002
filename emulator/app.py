"""The emulator server: one aiohttp application on two loopback listeners.

- HTTPS (trustme CA): what azure-identity needs for the token service; Graph is served too.
- HTTP: Graph only in practice; kiota accepts http:// for 127.0.0.1, and skipping TLS keeps
  the Graph path fast for benchmarks.
Both listeners serve the same routes, so either base URL works for Graph.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from aiohttp import web

from emulator import batch, calendar, mail, users
from emulator.admin import TenantAdmin
from emulator.admin_routes import add_admin_routes
from emulator.certs import TlsMaterial, create_tls_material
from emulator.faults import FaultPlan
from emulator.fixture import Fixture
from emulator.front import graph_handler, token_routes
from emulator.pipeline import GraphService
from emulator.routing import Router
from emulator.state import TenantState
from emulator.stats import Stats
from emulator.tokens import TokenService

LOOPBACK = "127.0.0.1"


def build_router() -> Router:
    router = Router()
    for module in (users, mail, calendar, batch):
        module.register(router)
    return router


class Emulator(TenantAdmin):
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
        self.graph = GraphService(
            state,
            self.tokens,
            build_router(),
            self.faults,
            self.stats,
            concurrency_limit=concurrency_limit,
        )
        self._requested_ports = (port, http_port)
        self._workdir = workdir
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._runner: web.AppRunner | None = None
        self._tls: TlsMaterial | None = None
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
    def ca_pem_path(self) -> Path:
        """The test CA to trust (SSL_CERT_FILE / REQUESTS_CA_BUNDLE)."""
        if self._tls is None:
            raise RuntimeError("the emulator is not started")
        return self._tls.ca_pem_path

    @property
    def tenant_id(self) -> str:
        return self.fixture.tenant.id

    # -- lifecycle ---------------------------------------------------------------
    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_routes(token_routes(self.tokens, self.stats))
        add_admin_routes(app, self)
        app.router.add_route("*", "/v1.0{tail:.*}", graph_handler(self.graph))
        return app

    async def start(self) -> None:
        directory = self._workdir
        if directory is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="rapport-emulator-")
            directory = Path(self._tempdir.name)
        self._tls = create_tls_material(directory)
        self._runner = web.AppRunner(self.web_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        https_site = web.TCPSite(
            self._runner, LOOPBACK, self._requested_ports[0], ssl_context=self._tls.server_context
        )
        http_site = web.TCPSite(self._runner, LOOPBACK, self._requested_ports[1])
        await https_site.start()
        await http_site.start()
        self.port = _bound_port(https_site)
        self.http_port = _bound_port(http_site)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the asyncio server private; port 0 needs the real one
    assert server is not None
    sockets = getattr(server, "sockets", None)
    assert sockets
    return int(sockets[0].getsockname()[1])

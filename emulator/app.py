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
from emulator.front import graph_handler, sign_in_routes, token_routes
from emulator.pipeline import GraphService
from emulator.routing import Router
from emulator.signin import SignInService
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
    def ca_pem_path(self) -> Path:
        """The test CA to trust (SSL_CERT_FILE / REQUESTS_CA_BUNDLE)."""
        return self._server.ca_pem_path

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


class LoopbackServer:
    """One aiohttp application on 127.0.0.1 listeners; HTTPS ones present a certificate of a
    throw-away test CA, written to `workdir` (default: a temporary directory removed on stop).
    Shared by the Graph and the Dataverse emulators."""

    def __init__(self, workdir: Path | None, tempdir_prefix: str) -> None:
        self._workdir = workdir
        self._tempdir_prefix = tempdir_prefix
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._runner: web.AppRunner | None = None
        self._tls: TlsMaterial | None = None

    @property
    def ca_pem_path(self) -> Path:
        if self._tls is None:
            raise RuntimeError("the emulator is not started")
        return self._tls.ca_pem_path

    async def start(self, app: web.Application) -> None:
        """Make the TLS material and set `app` up; `listen` then opens its ports."""
        directory = self._workdir
        if directory is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix=self._tempdir_prefix)
            directory = Path(self._tempdir.name)
        self._tls = create_tls_material(directory)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()

    async def listen(self, port: int, *, tls: bool = True) -> int:
        """Serve the app on `port` (0 = a free one); the port bound."""
        assert self._runner is not None and self._tls is not None, "start() first"
        context = self._tls.server_context if tls else None
        site = web.TCPSite(self._runner, LOOPBACK, port, ssl_context=context)
        await site.start()
        server = site._server  # aiohttp keeps the asyncio server private; port 0 needs it
        sockets = getattr(server, "sockets", None)
        assert sockets
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

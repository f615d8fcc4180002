"""The loopback Dataverse server: one HTTPS listener whose origin is the environment URL.

Tokens come from a Graph emulator's token service (`Emulator.tokens`): starting adds this
environment's URL, and `https://{urlName}.crm.dynamics.com`, to the resources it issues
tokens for, so `{url}/.default` is the scope, as for a real environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from emulator.dataverse.admin import DataverseAdmin, add_admin_routes
from emulator.dataverse.environment import Environment, seed
from emulator.dataverse.http import API_PREFIX, ApiRequest
from emulator.dataverse.limits import Limits, Protection
from emulator.dataverse.service import DataverseService
from emulator.dataverse.store import Store
from emulator.loopback import LOOPBACK, LoopbackServer, LoopbackService, service_request
from emulator.tokens import TokenService


class DataverseEmulator(LoopbackService, DataverseAdmin):
    def __init__(
        self,
        environment: Environment,
        tokens: TokenService,
        *,
        port: int = 0,
        workdir: Path | None = None,
        seed_value: int = 0,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        store = Store(clock)
        seed(store, environment)
        protection = Protection(clock, seed_value, limits or Limits())
        super().__init__(DataverseService(store, tokens, environment, protection))
        self.environment = environment
        self.tokens = tokens
        self._requested_port = port
        self._server = LoopbackServer(workdir, "rapport-dataverse-")
        self.port = 0

    @property
    def url(self) -> str:
        """The environment URL (as `https://{org}.crm.dynamics.com`), no trailing slash."""
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}{API_PREFIX}"

    @property
    def admin_url(self) -> str:
        return f"{self.url}/_emulator"

    @property
    def scope(self) -> str:
        return f"{self.url}/.default"

    @property
    def nominal_url(self) -> str:
        """The cloud URL this environment stands for; its scope is accepted too."""
        return f"https://{self.environment.url_name}.crm.dynamics.com"

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        add_admin_routes(app, self)
        app.router.add_route("*", API_PREFIX + "{tail:.*}", self._handler)
        return app

    async def _handler(self, request: web.Request) -> web.Response:
        base_url = f"{request.scheme}://{request.host}{API_PREFIX}"
        api_request = await service_request(request, ApiRequest, base_url)
        response = await self.service.handle(api_request)
        return web.Response(status=response.status, body=response.body, headers=response.headers)

    async def start(self) -> None:
        await self._server.start(self.web_app())
        self.port = await self._server.listen(self._requested_port)
        self.service.audiences = {self.url, self.nominal_url}
        self.tokens.extra_audiences.update(self.service.audiences)

    async def stop(self) -> None:
        self.tokens.extra_audiences.difference_update(self.service.audiences)
        await self._server.stop()

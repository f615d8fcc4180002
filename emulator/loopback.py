"""Serving an emulator on 127.0.0.1: what the Graph and the Dataverse emulators share.

`LoopbackServer` runs one aiohttp application on loopback listeners; HTTPS ones
present a certificate of a throw-away test CA. `LoopbackService` is the life
cycle both emulators expose on top of it: `start`, `stop`, `async with`, and the
CA a client must trust.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from aiohttp import web

from emulator.certs import TlsMaterial, create_tls_material

LOOPBACK = "127.0.0.1"
Request = TypeVar("Request")


async def service_request(
    request: web.Request, kind: Callable[..., Request], base_url: str
) -> Request:
    """An emulator's own request value (`kind`: GraphRequest, ApiRequest) for an aiohttp
    request routed as `{prefix}{tail}`: the path below the prefix, the query, the headers
    with lower-cased names, the body, and `base_url` for building links."""
    return kind(
        method=request.method,
        path=request.match_info["tail"] or "/",
        query=dict(request.query),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.read(),
        base_url=base_url,
    )


class LoopbackServer:
    """One aiohttp application on 127.0.0.1 listeners; HTTPS ones present a certificate of a
    throw-away test CA, written to `workdir` (default: a temporary directory removed on stop)."""

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


class LoopbackService:
    """An emulator served by a `LoopbackServer` (`_server`), usable as `async with`."""

    _server: LoopbackServer

    @property
    def ca_pem_path(self) -> Path:
        """The test CA to trust (SSL_CERT_FILE / REQUESTS_CA_BUNDLE, httpx's `verify`)."""
        return self._server.ca_pem_path

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

"""aiohttp handlers: token service routes and the Graph entry point with transport faults."""

from __future__ import annotations

import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.errors import TokenError
from emulator.http import GraphRequest, GraphResponse
from emulator.loopback import service_request
from emulator.pipeline import GraphService
from emulator.signin import PageError, RedirectError, SignInService
from emulator.signin_pages import PAGE_HEADERS, fault_page, form_post_page, sign_in_page
from emulator.stats import LogEntry, Stats
from emulator.tokens import TokenService


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def token_routes(tokens: TokenService, stats: Stats) -> list[web.RouteDef]:
    def log(request: web.Request, status: int, started: float) -> None:
        stats.record(
            LogEntry(
                request.method,
                request.path,
                None,
                status,
                started,
                (time.time() - started) * 1000.0,
                "token",
                None,
            )
        )

    async def openid_configuration(request: web.Request) -> web.Response:
        started = time.time()
        try:
            body = tokens.openid_configuration(request.match_info["tenant"], _base_url(request))
        except TokenError as error:
            log(request, error.status, started)
            return web.json_response(error.body(), status=error.status)
        log(request, 200, started)
        return web.json_response(body)

    async def token(request: web.Request) -> web.Response:
        started = time.time()
        form = {k: str(v) for k, v in (await request.post()).items()}
        token_url = f"{_base_url(request)}{request.path}"
        try:
            body = tokens.issue(request.match_info["tenant"], form, token_url)
        except TokenError as error:
            log(request, error.status, started)
            return web.json_response(error.body(), status=error.status)
        log(request, 200, started)
        return web.json_response(body, headers={"Cache-Control": "no-store, no-cache"})

    async def keys(request: web.Request) -> web.Response:
        return web.json_response(tokens.jwks())

    return [
        web.get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        web.post("/{tenant}/oauth2/v2.0/token", token),
        web.get("/{tenant}/discovery/v2.0/keys", keys),
    ]


def graph_handler(service: GraphService) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        graph_request = await service_request(request, GraphRequest, f"{_base_url(request)}/v1.0")
        outcome = await service.handle(graph_request)
        if outcome.transport_fault == "reset":
            return _reset(request)
        if outcome.transport_fault == "truncate":
            return await _truncated(request, outcome.response)
        return web.Response(
            status=outcome.response.status,
            body=outcome.response.body,
            headers=outcome.response.headers,
        )

    return handler


def _reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection with a TCP RST, the way a dying load balancer does."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise ConnectionResetError("emulator fault: connection reset")


async def _truncated(request: web.Request, response: GraphResponse) -> web.StreamResponse:
    """Promise the full Content-Length, send half the body, then close."""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(response.body)
    await stream.prepare(request)
    await stream.write(response.body[: len(response.body) // 2])
    if request.transport is not None:
        request.transport.close()
    raise ConnectionResetError(f"emulator fault: truncated body ({uuid.uuid4()})")


def sign_in_routes(service: SignInService) -> list[web.RouteDef]:
    """GET shows the sign-in page (or the fault); POST signs the picked user in."""

    async def authorize(request: web.Request) -> web.StreamResponse:
        params = dict(request.query)
        if request.method == "POST":
            params = {k: str(v) for k, v in (await request.post()).items()}
        try:
            checked = service.check(request.match_info["tenant"], params)
            if request.method == "GET":
                return web.Response(
                    text=sign_in_page(checked, service.users(), request.path),
                    content_type="text/html",
                    headers=PAGE_HEADERS,
                )
            answer = service.grant(checked, params.get("login", ""))
        except PageError as fault:
            return web.Response(text=fault_page(str(fault)), status=400, content_type="text/html")
        except RedirectError as refused:
            answer = service.refusal(refused)
        if answer.mode == "form_post":
            return web.Response(
                text=form_post_page(answer), content_type="text/html", headers=PAGE_HEADERS
            )
        raise web.HTTPFound(answer.location(), headers=PAGE_HEADERS)

    return [web.route("*", "/{tenant}/oauth2/v2.0/authorize", authorize)]

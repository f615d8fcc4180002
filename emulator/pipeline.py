"""One Graph request end to end: auth, per-mailbox concurrency, faults, handler, logging.

Both the aiohttp front and each `$batch` sub-request go through `GraphService.handle`,
which is how batch items get throttled on their own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from emulator.errors import GraphError, graph_error_body
from emulator.faults import FAILING_KINDS, FaultPlan, FaultRule
from emulator.http import GraphRequest, GraphResponse, json_response
from emulator.routing import Context, Router, mailbox_segment
from emulator.state import TenantState
from emulator.stats import LogEntry, Stats
from emulator.tokens import TokenService

MAILBOX_KINDS = frozenset({"mailFolders", "messages", "calendar"})
TRANSPORT_KINDS = frozenset({"reset", "truncate"})


@dataclass
class Outcome:
    response: GraphResponse
    transport_fault: str | None  # "reset" / "truncate": for the HTTP front to act on


def _fault_error(rule: FaultRule) -> GraphError:
    retry = {"Retry-After": str(rule.retry_after)}
    if rule.kind == "throttle":
        return GraphError(
            429, "ApplicationThrottled", "Application is over its request rate limit.", retry
        )
    if rule.kind == "unavailable":
        return GraphError(
            503, "ServiceNotAvailable", "The service is temporarily unavailable.", retry
        )
    return GraphError(
        504, "GatewayTimeout", "The gateway did not receive a timely response from the service."
    )


class GraphService:
    def __init__(
        self,
        state: TenantState,
        tokens: TokenService,
        router: Router,
        faults: FaultPlan,
        stats: Stats,
        *,
        concurrency_limit: int = 4,
        concurrency_retry_after: int = 1,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.state = state
        self.tokens = tokens
        self.router = router
        self.faults = faults
        self.stats = stats
        self.concurrency_limit = concurrency_limit
        self.concurrency_retry_after = concurrency_retry_after
        self.sleep = sleep

    async def handle(self, request: GraphRequest, *, in_batch: bool = False) -> Outcome:
        started = time.time()
        request_id = str(uuid.uuid4())
        client_request_id = request.header("client-request-id") or str(uuid.uuid4())
        mailbox: str | None = None
        path_kind = "unknown"
        fired: list[FaultRule] = []
        try:
            claims = self.tokens.verify_bearer(request.header("authorization"))
            route, params = self.router.match(request.method, request.path)
            path_kind = route.kind
            mailbox = self._mailbox_key(request.path, route.kind)
            fired = self.faults.decide(mailbox, path_kind)
            ctx = Context(request, params, claims, self.state, dispatch=self._sub_dispatch)
            ctx.malformed = next((r.malformed for r in fired if r.kind == "malformed"), None)
            response = await self._guarded(ctx, route.handler, mailbox, fired)
        except GraphError as error:
            response = json_response(
                graph_error_body(error.code, error.message, request_id, client_request_id),
                error.status,
                error.headers,
            )
        response.headers["request-id"] = request_id
        response.headers["client-request-id"] = client_request_id
        response.headers["x-ms-ags-diagnostic"] = (
            '{"ServerInfo":{"DataCenter":"Loopback","Slice":"E","Ring":"0"}}'
        )
        transport = (
            None if in_batch else next((r.kind for r in fired if r.kind in TRANSPORT_KINDS), None)
        )
        self.stats.record(
            LogEntry(
                request.method,
                request.path,
                mailbox,
                response.status,
                started,
                (time.time() - started) * 1000.0,
                path_kind,
                ",".join(r.kind for r in fired) or None,
            )
        )
        return Outcome(response, transport)

    async def _guarded(
        self,
        ctx: Context,
        handler: Callable[[Context], Awaitable[GraphResponse]],
        mailbox: str | None,
        fired: list[FaultRule],
    ) -> GraphResponse:
        if mailbox is None:
            return await self._run(ctx, handler, fired)
        in_flight = self.stats.enter(mailbox)
        try:
            if in_flight > self.concurrency_limit:
                self.stats.concurrency_violations += 1
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": str(self.concurrency_retry_after)},
                )
            return await self._run(ctx, handler, fired)
        finally:
            self.stats.leave(mailbox)

    async def _run(
        self,
        ctx: Context,
        handler: Callable[[Context], Awaitable[GraphResponse]],
        fired: list[FaultRule],
    ) -> GraphResponse:
        delay = self.faults.delay_seconds(fired)
        if delay > 0:
            await self.sleep(delay)
        for rule in fired:
            if rule.kind in FAILING_KINDS:
                raise _fault_error(rule)
        return await handler(ctx)

    def _mailbox_key(self, path: str, kind: str) -> str | None:
        if kind not in MAILBOX_KINDS:
            return None
        segment = mailbox_segment(path)
        if segment is None:
            return None
        user = self.state.find_user(segment)
        return user.id if user is not None else segment.lower()

    async def _sub_dispatch(self, request: GraphRequest) -> GraphResponse:
        return (await self.handle(request, in_batch=True)).response

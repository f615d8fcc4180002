"""The Dataverse Web API over httpx: one client per run, shared by every table.

Why httpx and not Microsoft's `PowerPlatform-Dataverse-Client`: the SDK imports pandas
and numpy (about 166 MB installed, ~1.1 s to import, docs/dataverse.md), is synchronous
unless an extra is installed, has its own retry handling, and offers neither change
tracking (delta links) nor a way to resume a page; the connector needs those.

Every request goes through `send`: the host pin (a token only ever travels to the
configured environment's Web API), the throttle gate (after a 429 every request of
this client waits until `Retry-After` has passed), a semaphore bounding concurrency
below Dataverse's per-user limit, and the one retry policy. Counters say how many
requests, retries and throttles a run cost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from crm.dataverse.environment import Environment
from crm.dataverse.exceptions import (
    EXPIRED_DELTA_CODE,
    AccessDenied,
    DataverseError,
    DeltaExpired,
    HostRefused,
    RecordMissing,
    RequestRefused,
    ServerUnavailable,
    Throttled,
    TokenRefused,
    TransportFailed,
)
from crm.dataverse.retry import RetryPolicy, Sleep, retrying

TokenSource = Callable[[], Awaitable[str]]
ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}
MAX_RETRY_AFTER = 300.0  # the service-protection window; a larger header is capped
TIMEOUT = httpx.Timeout(60.0, connect=15.0)


@dataclass
class Counters:
    """What a run cost in requests (for the run summary and metrics)."""

    requests: int = 0
    retries: int = 0
    throttles: int = 0
    throttled_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "throttles": self.throttles,
            "throttled_seconds": round(self.throttled_seconds, 3),
        }


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    # The body holds a NUL character (JSON writes it `\u0000`), which no database text
    # column takes: the pull then looks for the rows that carry one (a rare, slow path).
    nul: bool = False


class DataverseClient:
    def __init__(
        self,
        environment: Environment,
        token: TokenSource,
        *,
        concurrency: int = 8,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        verify: Any = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.environment = environment
        self.counters = Counters()
        self._token = token
        self._gate = asyncio.Semaphore(concurrency)
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._resume_at = 0.0
        self._http = httpx.AsyncClient(
            headers=ODATA_HEADERS, verify=verify, timeout=TIMEOUT, transport=transport
        )

    async def __aenter__(self) -> DataverseClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def url(self, path_or_link: str) -> str:
        if path_or_link.startswith(("https://", "http://")):
            return path_or_link
        return f"{self.environment.api_url}/{path_or_link.lstrip('/')}"

    async def get(
        self, path_or_link: str, *, params: Mapping[str, str] | None = None, prefer: str = ""
    ) -> Reply:
        headers = {"Prefer": prefer} if prefer else {}
        return await self.send("GET", path_or_link, params=params, headers=headers)

    async def send(
        self,
        method: str,
        path_or_link: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Reply:
        """One request, retried by the policy; refused before sending if off the host."""
        url = self.url(path_or_link)
        if not self.environment.owns(url):
            raise HostRefused(
                f"{method} refused: the link is not under {self.environment.api_url} "
                "(RAPPORT_DATAVERSE_URL); the token is only sent there"
            )

        def count_retry(error: BaseException) -> None:
            self.counters.retries += 1

        async for attempt in retrying(self._policy, sleep=self._sleep, on_retry=count_retry):
            with attempt:
                return await self._attempt(method, url, params, headers or {}, body)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: Any,
    ) -> Reply:
        await self._wait_for_gate()
        token = await self._token()
        sent = {**headers, "Authorization": f"Bearer {token}"}
        content = None if body is None else json.dumps(body, default=str).encode()
        if content is not None:
            sent["Content-Type"] = "application/json"
        async with self._gate:
            self.counters.requests += 1
            try:
                response = await self._http.request(
                    method, url, params=params, headers=sent, content=content
                )
            except httpx.TransportError as error:
                raise TransportFailed(f"{method} {_shown(url)}: {type(error).__name__}") from None
        status = response.status_code
        self.counters.by_status[status] = self.counters.by_status.get(status, 0) + 1
        if status >= 400:
            raise self._error(method, url, response)
        body = _json(response, method, url)
        return Reply(status, body, response.headers, nul=b"\\u0000" in response.content)

    async def _wait_for_gate(self) -> None:
        """While throttled, nothing of this client goes out (the limits are per user)."""
        wait = self._resume_at - self._clock()
        if wait > 0:
            self.counters.throttled_seconds += wait
            await self._sleep(wait)

    def _error(self, method: str, url: str, response: httpx.Response) -> DataverseError:
        status = response.status_code
        code, message = _error_body(response)
        text = f"{method} {_shown(url)}: {status} {code or ''} {message}".replace("  ", " ")
        if status == 429:
            retry_after = _seconds(response.headers.get("Retry-After"))
            self.counters.throttles += 1
            pause = min(MAX_RETRY_AFTER, retry_after if retry_after is not None else 1.0)
            self._resume_at = max(self._resume_at, self._clock() + pause)
            return Throttled(text, retry_after=pause, code=code)
        if status >= 500:
            return ServerUnavailable(text, status=status, code=code)
        kind: type[DataverseError] = {
            401: TokenRefused,
            403: AccessDenied,
            404: RecordMissing,
        }.get(status, RequestRefused)
        if code == EXPIRED_DELTA_CODE or "expired" in message.lower() and status == 400:
            kind = DeltaExpired
        return kind(text, status=status, code=code)


def _shown(url: str) -> str:
    """A URL for a message: its path without the query (a delta token is sync state)."""
    return url.split("?", 1)[0]


def _json(response: httpx.Response, method: str, url: str) -> Any:
    if not response.content:
        return None
    try:
        # msgspec decodes a page of 5,000 rows about twice as fast as json.loads.
        return msgspec.json.decode(response.content)
    except ValueError:
        raise TransportFailed(f"{method} {_shown(url)}: the body is not JSON") from None


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error", {})
        return error.get("code"), str(error.get("message", "")).strip()
    except (ValueError, AttributeError):
        return None, response.reason_phrase


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None

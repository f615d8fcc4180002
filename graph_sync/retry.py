"""The one retry policy (tenacity), for Graph calls and for Dataverse calls.

Retried: the caller's transient errors (Graph: throttling (429), 503, 504, transport
errors and undecodable bodies, graph_sync.exceptions.TransientError; Dataverse: 429, 5xx
and transport errors, crm.dataverse.exceptions.TransientError). Without a `Retry-After`,
exponential backoff with jitter. With one: Graph honours it here, capped and jittered so
that a throttled fleet does not come back in lockstep; Dataverse's client honours it in
a gate that holds back every request of the client (`gated`: tenacity then waits no more).
The number of attempts is bounded: when they run out the last error propagates (a mailbox
is marked throttled or failed; a pull stops at its last committed page) and the next run
resumes from the last committed cursor.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from graph_sync.exceptions import TransientError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    max_wait_seconds: float = 60.0
    initial_wait_seconds: float = 0.5


class wait_retry_after(wait_base):  # noqa: N801 - tenacity's naming for wait strategies
    def __init__(
        self, cap: float, fallback: wait_base, rng: random.Random, *, gated: bool = False
    ) -> None:
        self.cap = cap
        self.fallback = fallback
        self.rng = rng
        self.gated = gated

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return float(self.fallback(retry_state))
        if self.gated:
            return 0.0  # the caller's gate holds every request back until then
        # Up to 20 % extra so that many mailboxes throttled together spread out.
        return min(self.cap, float(retry_after) * (1.0 + 0.2 * self.rng.random()))


def retrying(
    policy: RetryPolicy,
    *,
    sleep: Sleep,
    on_retry: Callable[[BaseException], None] | None = None,
    rng: random.Random | None = None,
    retry_on: type[BaseException] = TransientError,
    gated: bool = False,
) -> AsyncRetrying:
    def before_sleep(state: RetryCallState) -> None:
        if on_retry and state.outcome is not None:
            error = state.outcome.exception()
            if error is not None:
                on_retry(error)

    return AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(policy.attempts),
        wait=wait_retry_after(
            policy.max_wait_seconds,
            wait_exponential_jitter(
                multiplier=policy.initial_wait_seconds,
                max=policy.max_wait_seconds,
                jitter=policy.initial_wait_seconds,
            ),
            rng or random.Random(),
            gated=gated,
        ),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


async def call_with_retry(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    sleep: Sleep,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    async for attempt in retrying(policy, sleep=sleep, on_retry=on_retry):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity reraises the last error")

"""The one retry policy for Dataverse calls, defined beside the client it protects.

Retried: throttling (429), 5xx and transport errors (crm.dataverse.exceptions.
TransientError). A 429's `Retry-After` is not slept here: the client's throttle gate
holds back every request until then (the whole client backs off, since Dataverse's
limits are per application user and sending while throttled makes the wait grow).
Other transient errors back off exponentially with jitter. Attempts are bounded; when
they run out the error propagates and the next run resumes from the committed cursor.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from crm.dataverse.exceptions import Throttled, TransientError

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10
    max_wait_seconds: float = 60.0
    initial_wait_seconds: float = 0.5


class wait_unless_gated(wait_base):  # noqa: N801 - tenacity's naming for wait strategies
    """No wait after a 429 with Retry-After (the gate waits); backoff otherwise."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, Throttled) and error.retry_after is not None:
            return 0.0
        return float(self.fallback(retry_state))


def retrying(
    policy: RetryPolicy,
    *,
    sleep: Sleep,
    on_retry: Callable[[BaseException], None] | None = None,
    rng: random.Random | None = None,
) -> AsyncRetrying:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and error is not None:
            on_retry(error)

    jitter = policy.initial_wait_seconds * (rng or random.Random()).random()
    return AsyncRetrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(policy.attempts),
        wait=wait_unless_gated(
            wait_exponential_jitter(
                multiplier=policy.initial_wait_seconds,
                max=policy.max_wait_seconds,
                jitter=policy.initial_wait_seconds + jitter,
            )
        ),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )

"""Dataverse's use of the one retry policy (graph_sync.retry, tenacity).

Retried: throttling (429), 5xx and transport errors (crm.dataverse.exceptions.
TransientError), at most 10 attempts. A 429's `Retry-After` is not slept by the policy:
the client's throttle gate holds back every request until then (the whole client backs
off, since Dataverse's limits are per application user and sending while throttled makes
the wait grow). Other transient errors back off exponentially with jitter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying

from crm.dataverse.exceptions import TransientError
from graph_sync import retry
from graph_sync.retry import Sleep

__all__ = ["RetryPolicy", "Sleep", "retrying"]


@dataclass(frozen=True)
class RetryPolicy(retry.RetryPolicy):
    attempts: int = 10


def retrying(
    policy: retry.RetryPolicy,
    *,
    sleep: Sleep,
    on_retry: Callable[[BaseException], None] | None = None,
    rng: random.Random | None = None,
) -> AsyncRetrying:
    return retry.retrying(
        policy, sleep=sleep, on_retry=on_retry, rng=rng, retry_on=TransientError, gated=True
    )

"""The one retry policy: what is retried, how long it waits, when it gives up.

Pure: tenacity gets a recording sleep, so nothing here waits.
"""

from __future__ import annotations

import pytest

from graph_sync.exceptions import AccessDenied, SyncStateExpired, Throttled, TransportError
from graph_sync.retry import RetryPolicy, call_with_retry


class Flaky:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "page"


async def run(policy: RetryPolicy, call: Flaky) -> tuple[str, list[float], list[str]]:
    slept: list[float] = []
    retried: list[str] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    result = await call_with_retry(
        policy, call, sleep=sleep, on_retry=lambda e: retried.append(type(e).__name__)
    )
    return result, slept, retried


async def test_retry_after_is_honoured_with_jitter() -> None:
    result, slept, retried = await run(RetryPolicy(), Flaky(Throttled(429, "x", 2.0)))

    assert result == "page" and retried == ["Throttled"]
    [wait] = slept
    assert 2.0 <= wait <= 2.4


async def test_retry_after_is_capped() -> None:
    _, slept, _ = await run(RetryPolicy(max_wait_seconds=5), Flaky(Throttled(503, "x", 3600)))

    assert slept == [5]


async def test_without_retry_after_the_backoff_grows() -> None:
    failures = [TransportError("reset") for _ in range(4)]
    _, slept, _ = await run(RetryPolicy(attempts=5, initial_wait_seconds=0.5), Flaky(*failures))

    assert len(slept) == 4 and all(0 < wait <= 60 for wait in slept)
    assert slept[-1] > slept[0]


async def test_attempts_are_bounded_and_the_last_error_propagates() -> None:
    call = Flaky(*(Throttled(429, "ApplicationThrottled", 1) for _ in range(10)))

    with pytest.raises(Throttled, match="429 ApplicationThrottled"):
        await run(RetryPolicy(attempts=3), call)
    assert call.calls == 3


@pytest.mark.parametrize("error", [AccessDenied("ErrorAccessDenied", ""), SyncStateExpired("410")])
async def test_refusals_and_expired_state_are_not_retried(error: Exception) -> None:
    call = Flaky(error)

    with pytest.raises(type(error)):
        await run(RetryPolicy(), call)
    assert call.calls == 1

"""Service protection: the per-user limits over a sliding window, concurrency, the wait
that grows while a throttled client keeps sending, and injected failures.

Dataverse counts, per user (the application user, for app-only callers) over a 5-minute
sliding window, requests (6,000) and their combined execution time (20 minutes), and
concurrent requests (52); over a limit it answers 429 with `Retry-After` in seconds. A
request sent before that Retry-After has passed is refused too, and the wait grows by
the Retry-After first given (Microsoft: "continuing to send requests while throttled
extends the wait"). Tests make the limits small. Injected faults fail a seeded fraction
(or every Nth) of matching requests with a 429 (or a 503), so a run repeats exactly.
"""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from emulator.dataverse.errors import (
    THROTTLED_CONCURRENCY,
    THROTTLED_EXECUTION,
    THROTTLED_REQUESTS,
    DataverseError,
)


@dataclass
class Limits:
    requests_per_window: int = 6000
    window_seconds: float = 300.0
    concurrent_requests: int = 52
    execution_seconds: float = 1200.0  # combined execution time over the window
    # A request sent while its user is throttled is refused and the wait grows.
    early_retry_penalty: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "requestsPerWindow": self.requests_per_window,
            "windowSeconds": self.window_seconds,
            "concurrentRequests": self.concurrent_requests,
            "executionSeconds": self.execution_seconds,
            "earlyRetryPenalty": self.early_retry_penalty,
        }


@dataclass
class Fault:
    """Fail matching requests: `fraction` of them (seeded), or every `every`th."""

    kind: str = "throttle"  # throttle (429), unavailable (503), latency (slow, in flight)
    fraction: float = 0.0
    every: int | None = None
    retry_after: int = 1
    table: str | None = None  # entity set, or None for every path
    method: str | None = None
    limit: int | None = None  # stop after this many failures
    latency_ms: int = 0
    id: int = 0
    fired: int = 0
    seen: int = 0

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        allowed = {
            "kind",
            "fraction",
            "every",
            "retryAfter",
            "table",
            "method",
            "limit",
            "latencyMs",
        }
        unknown = set(raw) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s) {sorted(unknown)}; allowed {sorted(allowed)}")
        fault = cls(
            kind=str(raw.get("kind", "throttle")),
            fraction=float(raw.get("fraction", 0.0)),
            every=raw.get("every"),
            retry_after=int(raw.get("retryAfter", 1)),
            table=raw.get("table"),
            method=raw.get("method"),
            limit=raw.get("limit"),
            latency_ms=int(raw.get("latencyMs", 0)),
        )
        if fault.kind not in ("throttle", "unavailable", "latency"):
            raise ValueError("kind must be 'throttle', 'unavailable' or 'latency'")
        if not 0.0 <= fault.fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        return fault

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["retryAfter"] = raw.pop("retry_after")
        raw["latencyMs"] = raw.pop("latency_ms")
        return raw


@dataclass
class Protection:
    clock: Callable[[], float]
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    faults: list[Fault] = field(default_factory=list)
    _recent: dict[str, deque[float]] = field(default_factory=dict)
    # per user: (when a request finished, seconds it took), within the window
    _spent: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)
    _in_flight: dict[str, int] = field(default_factory=dict)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.throttled = 0
        self.throttled_by_code: Counter[str] = Counter()
        self.peak_concurrency = 0
        # Requests a user sent before the Retry-After of its last 429 had passed: a client
        # that backs off as a whole while throttled keeps this at 0.
        self.early_retries = 0
        self._retry_until: dict[str, float] = {}
        self._throttle: dict[str, tuple[str, float]] = {}  # the code and first wait

    def arrived(self, user: str) -> None:
        """A request of `user` arrives: refused while the user is throttled (and the wait
        grows by the Retry-After first given), unless the penalty is switched off."""
        now = self.clock()
        until = self._retry_until.get(user, 0.0)
        if now >= until:
            return
        self.early_retries += 1
        if not self.limits.early_retry_penalty:
            return
        code, wait = self._throttle.get(user, (THROTTLED_REQUESTS, 1.0))
        self._retry_until[user] = until + wait
        raise DataverseError(
            429,
            code,
            "The request was sent while throttled: the Retry-After given had not passed, "
            "so the wait has grown.",
            {"Retry-After": str(max(1, math.ceil(until + wait - now)))},
        )

    def told_to_wait(self, user: str, retry_after: str | None, code: str | None = None) -> None:
        self.throttled += 1
        self.throttled_by_code[code or "?"] += 1
        try:
            wait = float(retry_after or 0)
        except ValueError:
            wait = 0.0
        now = self.clock()
        if now >= self._retry_until.get(user, 0.0):  # a new throttle: its wait is the step
            self._throttle[user] = (code or THROTTLED_REQUESTS, max(wait, 1.0))
        self._retry_until[user] = max(now + wait, self._retry_until.get(user, 0.0))

    def spent(self, user: str, seconds: float) -> None:
        """A request of `user` took `seconds` to execute."""
        self._spent.setdefault(user, deque()).append((self.clock(), seconds))

    def add_fault(self, fault: Fault) -> Fault:
        self._next_id += 1
        fault.id = self._next_id
        self.faults.append(fault)
        return fault

    def admit(self, user: str) -> int:
        """Count a request for `user`; 429 over the request or the execution-time limit.
        Returns the requests remaining."""
        now = self.clock()
        start = now - self.limits.window_seconds
        recent = self._recent.setdefault(user, deque())
        while recent and recent[0] <= start:
            recent.popleft()
        if len(recent) >= self.limits.requests_per_window:
            wait = max(1, math.ceil(recent[0] + self.limits.window_seconds - now))
            raise DataverseError(
                429,
                THROTTLED_REQUESTS,
                f"Number of requests exceeded the limit of {self.limits.requests_per_window} "
                f"over time window of {int(self.limits.window_seconds)} seconds.",
                {"Retry-After": str(wait)},
            )
        self._check_execution_time(user, now, start)
        recent.append(now)
        return self.limits.requests_per_window - len(recent)

    def _check_execution_time(self, user: str, now: float, start: float) -> None:
        spent = self._spent.setdefault(user, deque())
        while spent and spent[0][0] <= start:
            spent.popleft()
        total = sum(seconds for _at, seconds in spent)
        if total < self.limits.execution_seconds:
            return
        # Wait until enough of the oldest execution time has left the window.
        over, wait_until = total - self.limits.execution_seconds, now
        for at, seconds in spent:
            over -= seconds
            wait_until = at + self.limits.window_seconds
            if over < 0:
                break
        limit_ms = f"{round(self.limits.execution_seconds * 1000):,}"
        raise DataverseError(
            429,
            THROTTLED_EXECUTION,
            f"Combined execution time of incoming requests exceeded limit of {limit_ms} "
            f"milliseconds over time window of {int(self.limits.window_seconds)} seconds. "
            "Decrease number of concurrent requests or reduce the duration of requests and "
            "try again later.",
            {"Retry-After": str(max(1, math.ceil(wait_until - now)))},
        )

    def enter(self, user: str) -> None:
        count = self._in_flight.get(user, 0) + 1
        self._in_flight[user] = count
        self.peak_concurrency = max(self.peak_concurrency, count)
        if count > self.limits.concurrent_requests:
            self._in_flight[user] = count - 1  # refused: it never runs, so never leaves
            raise DataverseError(
                429,
                THROTTLED_CONCURRENCY,
                f"Number of concurrent requests exceeded the limit of "
                f"{self.limits.concurrent_requests}.",
                {"Retry-After": "1"},
            )

    def leave(self, user: str) -> None:
        self._in_flight[user] = self._in_flight.get(user, 1) - 1

    def inject(self, method: str, table: str | None) -> float:
        """Raise the first failing fault that fires; return the latency (s) to spend."""
        latency = 0.0
        for fault in self.faults:
            if fault.table is not None and fault.table != table:
                continue
            if fault.method is not None and fault.method.upper() != method:
                continue
            if fault.limit is not None and fault.fired >= fault.limit:
                continue
            fault.seen += 1
            hit = (
                fault.seen % fault.every == 0
                if fault.every
                else self._rng.random() < fault.fraction
            )
            if hit:
                fault.fired += 1
                if fault.kind == "latency":
                    latency += fault.latency_ms / 1000.0
                    continue
                raise _injected(fault)
        return latency

    def reset(self) -> None:
        self._recent.clear()
        self._spent.clear()
        self._retry_until.clear()
        self._throttle.clear()


def _injected(fault: Fault) -> DataverseError:
    headers = {"Retry-After": str(fault.retry_after)}
    if fault.kind == "unavailable":
        return DataverseError(503, "0x80040216", "The service is temporarily unavailable.", headers)
    return DataverseError(
        429,
        THROTTLED_REQUESTS,
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        headers,
    )

"""Service protection: the per-user request limit over a sliding window, concurrency, and
injected failures.

Dataverse counts requests per user (the application user, for app-only callers) over a
5-minute sliding window (6,000 requests) and concurrent requests (52); over a limit it
answers 429 with `Retry-After` in seconds. Tests make the limits small. Injected faults
fail a seeded fraction (or every Nth) of matching requests with a 429 (or a 503), so a
run repeats exactly.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from emulator.dataverse.errors import (
    THROTTLED_CONCURRENCY,
    THROTTLED_REQUESTS,
    DataverseError,
)


@dataclass
class Limits:
    requests_per_window: int = 6000
    window_seconds: float = 300.0
    concurrent_requests: int = 52

    def to_json(self) -> dict[str, Any]:
        return {
            "requestsPerWindow": self.requests_per_window,
            "windowSeconds": self.window_seconds,
            "concurrentRequests": self.concurrent_requests,
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
    _in_flight: dict[str, int] = field(default_factory=dict)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.throttled = 0
        self.peak_concurrency = 0
        # Requests a user sent before the Retry-After of its last 429 had passed: a client
        # that backs off as a whole while throttled keeps this at 0.
        self.early_retries = 0
        self._retry_until: dict[str, float] = {}

    def arrived(self, user: str) -> None:
        if self.clock() < self._retry_until.get(user, 0.0):
            self.early_retries += 1

    def told_to_wait(self, user: str, retry_after: str | None) -> None:
        try:
            wait = float(retry_after or 0)
        except ValueError:
            wait = 0.0
        until = self.clock() + wait
        self._retry_until[user] = max(until, self._retry_until.get(user, 0.0))

    def add_fault(self, fault: Fault) -> Fault:
        self._next_id += 1
        fault.id = self._next_id
        self.faults.append(fault)
        return fault

    def admit(self, user: str) -> int:
        """Count a request for `user`; 429 over the request limit. Returns the remaining."""
        now = self.clock()
        recent = self._recent.setdefault(user, deque())
        while recent and recent[0] <= now - self.limits.window_seconds:
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
        recent.append(now)
        return self.limits.requests_per_window - len(recent)

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
        self._retry_until.clear()


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

"""Request log and counters, readable from tests and through GET /_emulator/stats."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LogEntry:
    method: str
    path: str
    mailbox: str | None  # resolved user id for mailbox-scoped requests
    status: int
    started: float  # epoch seconds
    duration_ms: float
    path_kind: str
    fault: str | None


class Stats:
    def __init__(self, log_size: int = 100_000) -> None:
        self._log_size = log_size
        self.reset()

    def reset(self) -> None:
        self.log: deque[LogEntry] = deque(maxlen=self._log_size)
        self.in_flight: Counter[str] = Counter()
        self.requests_per_mailbox: Counter[str] = Counter()
        self.peak_concurrency: dict[str, int] = {}
        self.status_counts: Counter[int] = Counter()
        self.throttled = 0
        self.concurrency_violations = 0
        self.requests = 0

    def enter(self, mailbox: str) -> int:
        """Count a request in flight for `mailbox`; return how many are now in flight."""
        self.in_flight[mailbox] += 1
        now = self.in_flight[mailbox]
        if now > self.peak_concurrency.get(mailbox, 0):
            self.peak_concurrency[mailbox] = now
        return now

    def leave(self, mailbox: str) -> None:
        self.in_flight[mailbox] -= 1
        if self.in_flight[mailbox] <= 0:
            del self.in_flight[mailbox]

    def record(self, entry: LogEntry) -> None:
        self.requests += 1
        self.log.append(entry)
        self.status_counts[entry.status] += 1
        if entry.mailbox is not None:
            self.requests_per_mailbox[entry.mailbox] += 1
        if entry.status == 429:
            self.throttled += 1

    def snapshot(self, *, include_log: bool = False) -> dict[str, Any]:
        snapshot: dict[str, Any] = {
            "requests": self.requests,
            "requestsPerMailbox": dict(self.requests_per_mailbox),
            "peakConcurrencyPerMailbox": dict(self.peak_concurrency),
            "throttled": self.throttled,
            "concurrencyViolations": self.concurrency_violations,
            "statusCounts": {str(k): v for k, v in self.status_counts.items()},
        }
        if include_log:
            snapshot["log"] = [asdict(e) for e in self.log]
        return snapshot

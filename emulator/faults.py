"""Injected failures: what the real service does on a bad day, on demand and reproducibly.

Every probabilistic decision draws from one seeded RNG, so a test with
`probability=0.3, seed=7` sees the same failures on every run.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = frozenset(
    {"throttle", "unavailable", "gateway_timeout", "latency", "reset", "truncate", "malformed"}
)
PATH_KINDS = frozenset({"organization", "users", "mailFolders", "messages", "calendar", "batch"})
# Faults that end the request with an error response; the first fired one wins.
FAILING_KINDS = ("throttle", "unavailable", "gateway_timeout")


class FaultConfigError(ValueError):
    """A fault rule is invalid; the message names the field."""


@dataclass
class FaultRule:
    kind: str
    probability: float = 1.0  # chance per matching request (ignored when `every` is set)
    every: int | None = None  # fire on every Nth matching request instead
    mailbox: str | None = None  # user id, UPN or mail; None = every mailbox
    path_kind: str | None = None  # one of PATH_KINDS; None = every path
    retry_after: int = 1  # seconds, for throttle / unavailable
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    malformed: str = "from"  # "from" (a string instead of an object) or "date"
    limit: int | None = None  # stop firing after this many times
    id: int = 0
    matched: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def validate(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultConfigError(f"kind must be one of {sorted(FAULT_KINDS)}, not {self.kind!r}")
        if self.path_kind is not None and self.path_kind not in PATH_KINDS:
            raise FaultConfigError(f"path_kind must be one of {sorted(PATH_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise FaultConfigError("probability must be within [0, 1]")
        if self.every is not None and self.every < 1:
            raise FaultConfigError("every must be >= 1")
        if self.malformed not in ("from", "date"):
            raise FaultConfigError("malformed must be 'from' or 'date'")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FaultRule:
        known = {
            k: v
            for k, v in raw.items()
            if k in cls.__dataclass_fields__ and k not in ("id", "matched", "fired")
        }
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise FaultConfigError(f"unknown fault field(s): {sorted(unknown)}")
        if "kind" not in known:
            raise FaultConfigError("kind is required")
        rule = cls(**known)
        rule.validate()
        return rule


class FaultPlan:
    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random(seed)
        self._ids = itertools.count(1)

    def add(self, rule: FaultRule) -> FaultRule:
        rule.validate()
        rule.id = next(self._ids)
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def clear(self) -> None:
        self.rules.clear()

    def reseed(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def decide(self, mailbox: str | None, path_kind: str) -> list[FaultRule]:
        """The rules that fire for this request, in the order they were added."""
        fired: list[FaultRule] = []
        for rule in self.rules:
            if rule.mailbox is not None and rule.mailbox != mailbox:
                continue
            if rule.path_kind is not None and rule.path_kind != path_kind:
                continue
            if rule.limit is not None and rule.fired >= rule.limit:
                continue
            rule.matched += 1
            if rule.every is not None:
                hit = rule.matched % rule.every == 0
            else:
                hit = rule.probability >= 1.0 or self.rng.random() < rule.probability
            if hit:
                rule.fired += 1
                fired.append(rule)
        return fired

    def delay_seconds(self, fired: list[FaultRule]) -> float:
        total = 0.0
        for rule in fired:
            if rule.kind == "latency":
                total += (rule.latency_ms + self.rng.uniform(0.0, rule.jitter_ms)) / 1000.0
        return total

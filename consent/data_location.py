"""Data-residency policy: may this mailbox's data be read from Exchange?

Exchange data may be used only where the mailbox lives in a global geography
(EUR, NAM, APC by default). Graph exposes no tenant default residency in v1.0,
so the admin declares it; a user's `preferredDataLocation` (Multi-Geo)
overrides it. A mailbox whose geo is unknown is excluded by default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class LocationPolicy:
    allowed: frozenset[str]
    tenant_default: str | None = None
    exclude_unknown: bool = True


@dataclass(frozen=True, slots=True)
class LocationDecision:
    allowed: bool
    geo: str | None
    reason: str


def decide_location(policy: LocationPolicy, preferred: str | None) -> LocationDecision:
    geo = (preferred or policy.tenant_default or "").strip().upper() or None
    source = "preferredDataLocation" if preferred else "tenant default"
    allowed = ", ".join(sorted(policy.allowed))
    if geo is None:
        if policy.exclude_unknown:
            return LocationDecision(False, None, "data residency unknown; excluded by policy")
        return LocationDecision(True, None, "data residency unknown; allowed by policy")
    if geo in policy.allowed:
        return LocationDecision(True, geo, f"{geo} ({source}) is allowed")
    return LocationDecision(False, geo, f"{geo} ({source}) is not an allowed geography ({allowed})")


# What names the tenant default: the setting the hint tells the admin to set.
TENANT_DEFAULT_SETTING = "RAPPORT_TENANT_DATA_LOCATION"
LOCATION_EXCLUDED = "location_excluded"  # the mailbox status of a residency refusal


class ResidencyDecided(Protocol):
    """A mailbox decision as graph_sync.tenant records it (storage.MailboxDecision)."""

    @property
    def status(self) -> str | None: ...
    @property
    def data_location(self) -> str | None: ...


def unknown_residency(status: str | None, data_location: str | None) -> bool:
    """Was this mailbox ruled out only because nobody said where it lives?"""
    return status == LOCATION_EXCLUDED and data_location is None


def excluded_for_unknown_residency(decisions: Iterable[ResidencyDecided]) -> int:
    """How many of a round's mailbox decisions are `unknown_residency`."""
    return sum(1 for d in decisions if unknown_residency(d.status, d.data_location))


def residency_hint(policy: LocationPolicy, unknown_excluded: int | None = None) -> str | None:
    """What to set so that mailboxes of unknown residency can be read; None if nothing.

    `unknown_excluded` is the count from the last decisions (`rapport mailboxes
    list`, the run summary): no hint when none was excluded for that. Without a
    count (`rapport consent check`, before any mailbox is decided) the policy
    alone says whether a mailbox without a preferredDataLocation would be.
    The sentence names the setting, an allowed value, and the per-user override,
    because "data residency unknown; excluded by policy" alone names none of them.
    """
    if unknown_excluded == 0 or not policy.exclude_unknown:
        return None
    if unknown_excluded is None and policy.tenant_default is not None:
        return None
    allowed = ", ".join(sorted(policy.allowed))
    how = (
        f"set {TENANT_DEFAULT_SETTING} to the tenant's default geography (a code such as EUR; "
        f"read only if allowed: {allowed}); a user's preferredDataLocation (Multi-Geo) "
        "overrides it"
    )
    if unknown_excluded is None:
        return (
            f"{TENANT_DEFAULT_SETTING} is not set: a mailbox without a preferredDataLocation "
            f"has no known data residency and is not read; {how}"
        )
    excluded = f"{unknown_excluded} mailbox{'es' if unknown_excluded > 1 else ''} excluded"
    if policy.tenant_default is not None:
        return (
            f"{excluded} at the last run (data residency unknown); "
            f"{TENANT_DEFAULT_SETTING} is now {policy.tenant_default}: the next run decides again"
        )
    return f"{excluded} (data residency unknown): {how}"

"""Data-___location policy: may this mailbox's data be read from Exchange?

Exchange data may be used only where the mailbox lives in a global geography
(EUR, NAM, APC by default). Graph exposes no tenant default ___location in v1.0,
so the admin declares it; a user's `preferredDataLocation` (Multi-Geo)
overrides it. A mailbox whose ___location is unknown is excluded by default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LocationPolicy:
    allowed: frozenset[str]
    tenant_default: str | None = None
    exclude_unknown: bool = True


@dataclass(frozen=True, slots=True)
class LocationDecision:
    allowed: bool
    ___location: str | None
    reason: str


def decide_location(policy: LocationPolicy, preferred: str | None) -> LocationDecision:
    ___location = (preferred or policy.tenant_default or "").strip().upper() or None
    source = "preferredDataLocation" if preferred else "tenant default"
    allowed = ", ".join(sorted(policy.allowed))
    if ___location is None:
        if policy.exclude_unknown:
            return LocationDecision(False, None, "data ___location unknown; excluded by policy")
        return LocationDecision(True, None, "data ___location unknown; allowed by policy")
    if ___location in policy.allowed:
        return LocationDecision(True, ___location, f"{___location} ({source}) is allowed")
    return LocationDecision(
        False, ___location, f"{___location} ({source}) is not an allowed geography ({allowed})"
    )

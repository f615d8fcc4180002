"""Data-residency policy: may this mailbox's data be read from Exchange?

Exchange data may be used only where the mailbox lives in a global geography
(EUR, NAM, APC by default). Graph exposes no tenant default residency in v1.0,
so the admin declares it; a user's `preferredDataLocation` (Multi-Geo)
overrides it. A mailbox whose geo is unknown is excluded by default.
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

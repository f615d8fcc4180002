"""The consent check: which application permissions the tenant's admin granted.

Acquire an app-only token, read its `roles` claim, name each missing
permission and what it is needed for, and confirm with one probe call. The
outcome decides whether the tenant is read from Exchange or scored from CRM
data only; it never raises for a tenant-side problem.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consent.admin_url import GRAPH_DEFAULT_SCOPE
from consent.permissions import PURPOSES, REQUIRED_ROLES, broader_than_needed, missing_roles
from consent.token_claims import TokenFormatError, granted_roles

GRANTED, MISSING, NOT_CONFIGURED, TOKEN_FAILED = (
    "granted",
    "missing",
    "not_configured",
    "token_failed",
)


class ProbeDenied(Exception):
    """The probe call was refused (403): consent is not really in place."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class ProbeFailed(Exception):
    """The probe call failed for another reason (throttled, unreachable): inconclusive."""


Probe = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ConsentOutcome:
    state: str
    reason: str
    granted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    broader: list[str] = field(default_factory=list)
    probe: str = "not run"

    @property
    def needed_for(self) -> dict[str, str]:
        return {role: PURPOSES[role] for role in self.missing}


def not_configured(reason: str, required: Mapping[str, str] = REQUIRED_ROLES) -> ConsentOutcome:
    return ConsentOutcome(NOT_CONFIGURED, reason, missing=list(required))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


async def _token(credential: Any) -> str:
    access = await credential.get_token(GRAPH_DEFAULT_SCOPE)
    return str(access.token)


async def check_consent(
    credential: Any, probe: Probe, required: Mapping[str, str] = REQUIRED_ROLES
) -> ConsentOutcome:
    # AzureError covers a refused grant (ClientAuthenticationError, with the AADSTS code)
    # and an unreachable token service (ServiceRequestError); neither message holds a secret.
    from azure.core.exceptions import AzureError

    try:
        granted = granted_roles(await _token(credential))
    except (AzureError, TokenFormatError) as failure:
        return ConsentOutcome(
            TOKEN_FAILED,
            f"token request failed: {_first_line(failure)}",
            missing=list(required),
        )
    missing = missing_roles(granted, required)
    broader = broader_than_needed(granted, required)
    if missing:
        reason = "admin consent missing for " + ", ".join(missing)
        return ConsentOutcome(MISSING, reason, granted, missing, broader)
    try:
        await probe()
    except ProbeDenied as denial:
        return ConsentOutcome(
            MISSING, f"probe call refused: {denial}", granted, [], broader, probe="refused"
        )
    except ProbeFailed as failure:
        reason = f"all required permissions granted; the probe call failed: {failure}"
        return ConsentOutcome(
            GRANTED, reason, granted, [], broader, probe=f"inconclusive: {failure}"
        )
    return ConsentOutcome(
        GRANTED, "all required permissions granted", granted, [], broader, probe="ok"
    )

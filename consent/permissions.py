"""The application permissions Rapport needs, and why (least privilege).

Broader roles satisfy a requirement (Mail.Read covers Mail.ReadBasic.All)
but are reported, so an admin can narrow the grant.
"""

from __future__ import annotations

from collections.abc import Iterable

REQUIRED_ROLES: dict[str, str] = {
    "Mail.ReadBasic.All": "read mail metadata (senders, recipients, times; never bodies)",
    "Calendars.ReadBasic.All": "read meeting metadata (organizer, attendees, responses, times)",
    "User.Read.All": "list the directory's mailboxes and their data locations",
}
SATISFIED_BY: dict[str, frozenset[str]] = {
    "Mail.ReadBasic.All": frozenset(
        {"Mail.ReadBasic.All", "Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}
    ),
    "Calendars.ReadBasic.All": frozenset(
        {"Calendars.ReadBasic.All", "Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"}
    ),
    "User.Read.All": frozenset(
        {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
    ),
}


def missing_roles(granted: Iterable[str]) -> list[str]:
    held = set(granted)
    return [role for role in REQUIRED_ROLES if not SATISFIED_BY[role] & held]


def broader_than_needed(granted: Iterable[str]) -> list[str]:
    """Granted roles that give more than metadata: worth narrowing."""
    held = set(granted)
    exact = set(REQUIRED_ROLES)
    return sorted(
        role
        for role in held - exact
        if any(role in satisfying for satisfying in SATISFIED_BY.values())
    )

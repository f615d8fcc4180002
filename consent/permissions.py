"""The application permissions Rapport needs, and why (least privilege).

Broader roles satisfy a requirement (Mail.Read covers Mail.ReadBasic.All)
but are reported, so an admin can narrow the grant. Scoping the mailboxes to
a group (RAPPORT_MAILBOX_GROUP_ID) or excluding groups (RAPPORT_EXCLUDED_GROUPS)
needs one more: listing a group's members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

REQUIRED_ROLES: dict[str, str] = {
    "Mail.ReadBasic.All": "read mail metadata (senders, recipients, times; never bodies)",
    "Calendars.ReadBasic.All": "read meeting metadata (organizer, attendees, responses, times)",
    "User.Read.All": "list the directory's mailboxes and their data locations",
}
GROUP_MEMBERS_ROLE = "GroupMember.Read.All"
GROUP_SCOPE_ROLES: dict[str, str] = {
    GROUP_MEMBERS_ROLE: "list the members of the mailbox group (RAPPORT_MAILBOX_GROUP_ID) "
    "and of the excluded groups (RAPPORT_EXCLUDED_GROUPS)",
}
PURPOSES: dict[str, str] = {**REQUIRED_ROLES, **GROUP_SCOPE_ROLES}
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
    GROUP_MEMBERS_ROLE: frozenset(
        {
            GROUP_MEMBERS_ROLE,
            "GroupMember.ReadWrite.All",
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    ),
}


def required_roles(*, group_scope: bool) -> dict[str, str]:
    """What this deployment needs: the three metadata roles, plus group reading if scoped."""
    return {**REQUIRED_ROLES, **(GROUP_SCOPE_ROLES if group_scope else {})}


def missing_roles(
    granted: Iterable[str], required: Mapping[str, str] = REQUIRED_ROLES
) -> list[str]:
    held = set(granted)
    return [role for role in required if not SATISFIED_BY[role] & held]


def broader_than_needed(
    granted: Iterable[str], required: Mapping[str, str] = REQUIRED_ROLES
) -> list[str]:
    """Granted roles that give more than metadata: worth narrowing."""
    held = set(granted)
    exact = set(required)
    return sorted(
        role for role in held - exact if any(role in SATISFIED_BY[need] for need in required)
    )

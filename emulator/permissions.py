"""Which application permissions (token `roles`) each resource family needs."""

from __future__ import annotations

from emulator.errors import GraphError

MAIL_FULL = frozenset({"Mail.Read", "Mail.Read.All", "Mail.ReadWrite"})
MAIL_BASIC = frozenset({"Mail.ReadBasic.All", "Mail.ReadBasic"})
CALENDAR_FULL = frozenset({"Calendars.Read", "Calendars.ReadWrite"})
CALENDAR_BASIC = frozenset({"Calendars.ReadBasic.All", "Calendars.ReadBasic"})
DIRECTORY_USERS = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
# GET /organization with app-only tokens needs one of these (Microsoft's permission table).
DIRECTORY_ORGANIZATION = frozenset(
    {
        "Organization.Read.All",
        "Organization.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
# What ReadBasic withholds, whatever $select asks for.
BASIC_WITHHELD = frozenset({"body", "bodyPreview", "uniqueBody", "attachments", "extensions"})


def _exchange_denied() -> GraphError:
    return GraphError(
        403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
    )


def _directory_denied() -> GraphError:
    return GraphError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def require_mail(roles: frozenset[str]) -> bool:
    """Raise unless mail is readable; return True when only the basic projection is allowed."""
    if roles & MAIL_FULL:
        return False
    if roles & MAIL_BASIC:
        return True
    raise _exchange_denied()


def require_calendar(roles: frozenset[str]) -> bool:
    if roles & CALENDAR_FULL:
        return False
    if roles & CALENDAR_BASIC:
        return True
    raise _exchange_denied()


def require_users(roles: frozenset[str]) -> None:
    if not roles & DIRECTORY_USERS:
        raise _directory_denied()


def require_organization(roles: frozenset[str]) -> None:
    if not roles & DIRECTORY_ORGANIZATION:
        raise _directory_denied()

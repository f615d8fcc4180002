"""Who never appears as an introducer: the read of the store behind it (no change).

Colleagues who opted out with `rapport introducers opt-out ADDRESS` are kept in
`ri_settings` under `who_knows_whom.opted_out` as system user ids (an erasure
replaces an id by its one-way token, so the opt-out outlives it); the command
that changes the list is worker/run/introducer_optout.py.

Never an introducer, whatever the interactions say:
- a colleague who opted out;
- a colleague named in RAPPORT_EXCLUDED_USERS (id, address, or the Graph id
  or UPN of their mailbox), passed in as `configured`;
- a colleague whose mailbox the directory round ruled out of scope: excluded
  by configuration, outside the mailbox group, or any future exclusion
  status. Data residency is not an exclusion of the person: their CRM
  relationships still count;
- a disabled colleague (they have left and cannot introduce anyone).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import SystemUser
from storage.directory import normalise_address
from storage.introducer_store import OPTED_OUT_KEY, load_introducers
from storage.settings_repo import load_settings
from storage.suppression import TOKEN_PREFIX, record_reference, store_hasher
from storage.sync_tables import Mailbox
from storage.types import core_table

SYSTEM_USER = core_table(SystemUser)
MAILBOX = core_table(Mailbox)
# Mailbox statuses that say where data lives or how a sync went, not who is left out.
NOT_PERSONAL_EXCLUSIONS = frozenset({"location_excluded"})


def mailbox_excludes(status: str | None) -> bool:
    """Whether a mailbox decision keeps its colleague out, read generically so that
    new exclusion statuses (e.g. a security-group exclusion) count without a change here."""
    if not status or status in NOT_PERSONAL_EXCLUSIONS:
        return False
    return status == "out_of_scope" or "exclu" in status


def opted_out_entries(*, session: Session) -> list[str]:
    value = load_settings(session=session).get(OPTED_OUT_KEY, [])
    return [str(entry) for entry in value] if isinstance(value, list) else []


def opted_out_colleagues(
    *, session: Session, user_ids: Collection[str], now: datetime
) -> frozenset[str]:
    """Which of `user_ids` opted out, by id or by the token an erasure left."""
    entries = set(opted_out_entries(session=session))
    found = {user_id for user_id in user_ids if user_id in entries}
    if any(entry.startswith(TOKEN_PREFIX) for entry in entries):
        hasher = store_hasher(session=session, now=now)
        found |= {
            user_id
            for user_id in user_ids
            if hasher.token(record_reference("system_user", user_id)) in entries
        }
    return frozenset(found)


def excluded_colleagues(
    *, session: Session, configured: Iterable[str], now: datetime
) -> frozenset[str]:
    """Every system user who must never appear as an introducer (see the module doc)."""
    names = {normalise_address(name) for name in configured if name.strip()}
    users = session.execute(
        sa.select(SYSTEM_USER.c.id, SYSTEM_USER.c.email, SYSTEM_USER.c.disabled)
    )
    excluded: set[str] = set()
    user_ids: list[str] = []
    for user_id, email, disabled in users:
        user_ids.append(user_id)
        if disabled or user_id.lower() in names or normalise_address(email or "") in names:
            excluded.add(user_id)
    mailboxes = sa.select(MAILBOX.c.id, MAILBOX.c.system_user_id, MAILBOX.c.status).where(
        MAILBOX.c.system_user_id.is_not(None)
    )
    for mailbox_id, user_id, status in session.execute(mailboxes):
        if mailbox_excludes(status) or mailbox_id.lower() in names:
            excluded.add(user_id)
    return frozenset(excluded | opted_out_colleagues(session=session, user_ids=user_ids, now=now))


def without_excluded(
    *, session: Session, rows: list[dict[str, Any]], configured: Iterable[str], now: datetime
) -> list[dict[str, Any]]:
    """Stored introducer rows (with `system_user_id`) without the colleagues who must
    never appear: read now, so an exclusion or opt-out since the run that wrote the rows
    counts already. What the record page, the drafts and `rapport introducers` show."""
    if not rows:
        return rows
    hidden = excluded_colleagues(session=session, configured=configured, now=now)
    return [row for row in rows if row["system_user_id"] not in hidden]


def current_introducers(
    *, session: Session, record_type: str, record_id: str, configured: Iterable[str], now: datetime
) -> list[dict[str, Any]]:
    """A contact's or lead's stored introducers, strongest first, `without_excluded`."""
    rows = load_introducers(session=session, record_type=record_type, record_id=record_id)
    return without_excluded(session=session, rows=rows, configured=configured, now=now)

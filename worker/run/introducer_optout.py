"""Colleagues who opted out of who-knows-whom, and who else never appears as an introducer.

A colleague opts out with `rapport introducers opt-out ADDRESS`; the list is
kept in `ri_settings` under `who_knows_whom.opted_out` as system user ids
(an erasure replaces an id by its one-way token, so the opt-out outlives it).
It is not an admin setting: `rapport settings` neither shows nor changes it.

Never an introducer, whatever the interactions say:
- a colleague who opted out;
- a colleague named in RAPPORT_EXCLUDED_USERS (id, address, or the Graph id
  or UPN of their mailbox);
- a colleague whose mailbox the directory round ruled out of scope: excluded
  by configuration, outside the mailbox group, or any future exclusion
  status. Data residency is not an exclusion of the person: their CRM
  relationships still count;
- a disabled colleague (they have left and cannot introduce anyone).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.audit import record_event
from storage.crm_tables import SystemUser
from storage.directory import normalise_address
from storage.engine import session_scope
from storage.introducer_store import OPTED_OUT_KEY, delete_introducers
from storage.settings_repo import load_settings, save_settings
from storage.suppression import TOKEN_PREFIX, record_reference, store_hasher
from storage.sync_tables import Mailbox
from storage.types import core_table
from worker.failures import UserError

SYSTEM_USER = core_table(SystemUser)
MAILBOX = core_table(Mailbox)
# Mailbox statuses that say where data lives or how a sync went, not who is left out.
NOT_PERSONAL_EXCLUSIONS = frozenset({"location_excluded"})


@dataclass(frozen=True)
class OptOutChange:
    system_user_id: str
    name: str
    email: str
    opted_out: bool  # the state after the command
    changed: bool
    introducer_rows_removed: int = 0


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


def _colleague(session: Session, address: str) -> Any:
    wanted = normalise_address(address)
    if "@" not in wanted:
        raise UserError(f"user: {address!r} is not allowed; expected a colleague's email address")
    query = sa.select(SYSTEM_USER.c.id, SYSTEM_USER.c.full_name, SYSTEM_USER.c.email).where(
        sa.func.lower(sa.func.trim(SYSTEM_USER.c.email)) == wanted
    )
    found = session.execute(query.order_by(SYSTEM_USER.c.id)).first()
    if found is None:
        raise UserError(f"user: no system user has the address {wanted!r}")
    return found


def _without(session: Session, entries: list[str], user_id: str, now: datetime) -> list[str]:
    """The list without the colleague, whether named by id or by an erasure's token."""
    kept = [entry for entry in entries if entry != user_id]
    if any(entry.startswith(TOKEN_PREFIX) for entry in kept):
        token = store_hasher(session=session, now=now).token(
            record_reference("system_user", user_id)
        )
        kept = [entry for entry in kept if entry != token]
    return kept


def change_opt_out(engine: Engine, address: str, *, opted_out: bool, now: datetime) -> OptOutChange:
    """Opt a colleague out (their introducer rows go at once) or back in; audited."""
    with session_scope(engine) as session:
        user = _colleague(session, address)
        entries = opted_out_entries(session=session)
        before = user.id in opted_out_colleagues(session=session, user_ids=[user.id], now=now)
        removed = 0
        if opted_out:
            removed = delete_introducers(session=session, system_user_ids=[user.id])
        if before != opted_out:
            kept = _without(session, entries, user.id, now)
            save_settings(
                session=session,
                values={OPTED_OUT_KEY: sorted([*kept, user.id] if opted_out else kept)},
                at=now,
            )
            record_event(
                session=session,
                at=now,
                command=f"introducers {'opt-out' if opted_out else 'opt-in'}",
                action="introducer_opted_out" if opted_out else "introducer_opted_in",
                subject=f"system_user:{user.id}",
                details={"introducer_rows_removed": removed},
            )
    return OptOutChange(
        user.id, user.full_name, user.email, opted_out, before != opted_out, removed
    )

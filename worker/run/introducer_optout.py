"""Opting a colleague out of who-knows-whom, or back in (`rapport introducers opt-out`).

The list is kept in `ri_settings` under `who_knows_whom.opted_out` as system user
ids (an erasure replaces an id by its one-way token, so the opt-out outlives it).
It is not an admin setting: `rapport settings` neither shows nor changes it. Who
never appears as an introducer is read by storage/introducer_optout_read.py.
"""

from __future__ import annotations

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
from storage.introducer_optout_read import opted_out_colleagues, opted_out_entries
from storage.introducer_store import OPTED_OUT_KEY, delete_introducers
from storage.settings_repo import save_settings
from storage.suppression import TOKEN_PREFIX, record_reference, store_hasher
from storage.types import core_table
from worker.failures import UserError

SYSTEM_USER = core_table(SystemUser)


@dataclass(frozen=True)
class OptOutChange:
    system_user_id: str
    name: str
    email: str
    opted_out: bool  # the state after the command
    changed: bool
    introducer_rows_removed: int = 0


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

"""Who sees which records: the one rule every page, JSON endpoint and CSV download applies.

A seller sees the records they own or whose owner is on their team (a contact's
owner is its account's owner, as in the insights views); a manager, everything.
A record with no owner is seen by managers only. Every route reads records through
`visibility_of`, so the rule cannot differ between the HTML, the JSON and the CSV.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import SystemUser
from storage.types import core_table
from web.identity import Viewer

USER = core_table(SystemUser)


@dataclass(frozen=True, slots=True)
class Visibility:
    """The owners whose records a viewer may see; None: everyone's (a manager)."""

    owners: frozenset[str] | None

    def allows(self, owner_id: str | None) -> bool:
        if self.owners is None:
            return True
        return owner_id is not None and owner_id in self.owners


def visibility_of(session: Session, viewer: Viewer) -> Visibility:
    """The rule: managers see all; a seller their own and their team's records."""
    if viewer.is_manager:
        return Visibility(None)
    if viewer.system_user_id is None:
        return Visibility(frozenset())
    # One query: the members of the viewer's team (none when they have no team).
    team = sa.select(USER.c.team).where(USER.c.id == viewer.system_user_id).scalar_subquery()
    members = session.scalars(sa.select(USER.c.id).where(USER.c.team == team, team != ""))
    return Visibility(frozenset({viewer.system_user_id, *members}))

"""Draft introduction: the `.eml` asking a colleague who knows a contact or lead for an
introduction, made by the same functions as `rapport introducers draft --format eml`
(insights.introductions: choose the introducer, fill the admin's template, write the
RFC 5322 message with the notice in its own header). A GET that only reads: the
message is downloaded and sent, or not, from the seller's own mail client.

The seller asking is the viewer (their system user); in the trial, which has none,
the record's owner. A record the viewer may not see, a record type other than
contact or lead, or a colleague who is not one of its introducers is a 404, as a
record that does not exist; so is a colleague excluded or opted out since the last
introducers run (storage.introducer_optout_read.current_introducers, as `rapport
introducers draft`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from insights import introductions
from insights.notice import EMPLOYMENT_NOTICE
from scoring.introducers import INTRODUCED_TYPES
from storage import insights_read, introductions_read
from storage.introducer_optout_read import current_introducers
from web.identity import Viewer
from web.record import RecordNotFound, visible_record
from web.visibility import Visibility


def file_name(person_name: str, introducer_name: str) -> str:
    """`introduction-<person>-via-<colleague>.eml`, letters, digits and dashes only."""

    def slug(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "someone"

    return f"introduction-{slug(person_name)}-via-{slug(introducer_name)}.eml"


def switched_on(settings: Mapping[str, Any]) -> bool:
    """Whether who-knows-whom, and so drafting an introduction, is on (admin settings)."""
    from worker.admin_settings import INTRODUCERS_SWITCH  # as TEMPLATE_KEY: loaded on use

    return bool(settings[INTRODUCERS_SWITCH])


def introduction_eml(
    session: Session,
    settings: Mapping[str, Any],
    seen: Visibility,
    viewer: Viewer,
    record_type: str,
    record_id: str,
    introducer: str | None,
    now: datetime,
    *,
    excluded: tuple[str, ...],
) -> tuple[str, bytes]:
    """(file name, message) of the introduction request to `introducer` (a system user
    id or address; None: the strongest) about one visible contact or lead."""
    if record_type not in INTRODUCED_TYPES or not switched_on(settings):
        raise RecordNotFound(record_type)
    row, owner_id = visible_record(session, seen, record_type, record_id)
    requester_id = viewer.system_user_id or owner_id
    found = (
        None
        if requester_id is None
        else insights_read.find_user(session=session, user=requester_id)
    )
    if found is None:
        raise RecordNotFound(record_id)
    requester = introductions.Colleague(
        found[1], introductions_read.user_email(session=session, system_user_id=found[0])
    )
    rows = current_introducers(
        session=session, record_type=record_type, record_id=record_id, configured=excluded, now=now
    )
    chosen = introductions.choose_introducer(rows, requester_id=found[0], named=introducer)
    if chosen is None:
        raise RecordNotFound(record_id)
    person = str(row["display_name"])
    from worker.admin_settings import TEMPLATE_KEY  # as web/admin.py: loaded on use

    made = introductions.draft_introduction(
        str(settings[TEMPLATE_KEY]),
        requester=requester,
        introducer=chosen,
        person_name=person,
        company=introductions_read.person_company(
            session=session, record_type=record_type, row=row
        ),
        today=now.date(),
    )
    message = introductions.to_eml(made, at=now, notice=EMPLOYMENT_NOTICE)
    return file_name(person, str(chosen["full_name"])), message

"""Who-knows-whom entries of a subject, for export and erasure.

A subject appears in `introducer` two ways: as the contact or lead a
colleague can introduce (`record_type`, `record_id`), or as that colleague
(`system_user_id`). Both are theirs to see and to have erased. A colleague's
opt-out (`ri_settings` `who_knows_whom.opted_out`) names them by system user
id; an erasure replaces the id with its one-way token, so the opt-out holds
if the CRM brings them back, and nothing names them any more.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from compliance.hashing import SubjectHasher
from compliance.subjects import Subject
from compliance.tables import INTRODUCER, RecordKey, ref_filter
from storage.introducer_store import OPTED_OUT_KEY
from storage.rapport_tables import RiSetting
from storage.suppression import record_reference
from storage.types import core_table

SETTINGS = core_table(RiSetting)


def _colleague_ids(refs: frozenset[RecordKey]) -> list[str]:
    return sorted(record_id for record_type, record_id in refs if record_type == "system_user")


def involving(refs: frozenset[RecordKey]) -> sa.ColumnElement[bool]:
    """Entries about the subject as the person introduced, or naming them as the colleague."""
    return sa.or_(
        ref_filter(INTRODUCER, refs), INTRODUCER.c.system_user_id.in_(_colleague_ids(refs))
    )


def introducer_rows(session: Session, refs: frozenset[RecordKey]) -> list[dict[str, Any]]:
    query = (
        sa.select(INTRODUCER)
        .where(involving(refs))
        .order_by(INTRODUCER.c.record_type, INTRODUCER.c.record_id, INTRODUCER.c.rank)
    )
    return [row._asdict() for row in session.execute(query)]


def count_introducers(session: Session, refs: frozenset[RecordKey]) -> int:
    query = sa.select(sa.func.count()).select_from(INTRODUCER).where(involving(refs))
    return int(session.execute(query).scalar_one())


def opted_out_ids(session: Session, subject: Subject) -> list[str]:
    """The subject's colleague ids that the opt-out list names in clear."""
    query = sa.select(SETTINGS.c.value).where(SETTINGS.c.key == OPTED_OUT_KEY)
    entries = session.execute(query).scalar()
    listed = set(entries) if isinstance(entries, list) else set()
    return [user_id for user_id in _colleague_ids(subject.refs) if user_id in listed]


def erase_introducers(session: Session, subject: Subject, hasher: SubjectHasher) -> None:
    """Delete the subject's entries; keep their opt-out, as a token."""
    session.execute(sa.delete(INTRODUCER).where(involving(subject.refs)))
    named = opted_out_ids(session, subject)
    if not named:
        return
    query = sa.select(SETTINGS.c.value).where(SETTINGS.c.key == OPTED_OUT_KEY)
    entries: list[str] = list(session.execute(query).scalar_one())
    tokens = {hasher.token(record_reference("system_user", user_id)) for user_id in named}
    kept = sorted({entry for entry in entries if entry not in named} | tokens)
    session.execute(sa.update(SETTINGS).where(SETTINGS.c.key == OPTED_OUT_KEY).values(value=kept))

"""Everything Rapport holds about one subject, as plain rows (no files, no audit).

Interactions appear as metadata only: Rapport never stores a subject line,
body or preview, so there is none to export. Counterparts appear as record
ids, the way they are stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from compliance.dataverse import pushed_rows
from compliance.export_layout import (
    CURSOR_COLUMNS,
    EMPLOYMENT_NOTICE,
    FORMAT_VERSION,
    INTERACTION_COLUMNS,
    KPI_COLUMNS,
    KPI_LIST_COLUMNS,
    SECTIONS,
)
from compliance.introducers import introducer_rows
from compliance.mentions import Mentions
from compliance.subjects import Subject, SubjectRecord, resolve_subject
from compliance.tables import (
    AUDIT,
    CURSOR,
    HEALTH_COLUMNS,
    HEALTH_TABLES,
    INTERACTION,
    KPI,
    MAILBOX,
    PARTY,
    SIGHTING,
    SNAPSHOT,
    RecordKey,
    ref_filter,
    regarding_filter,
    weakest_contact_filter,
)
from storage.engine import session_scope
from storage.health_read import UNREADABLE_KEY, read_row

Rows = list[dict[str, Any]]
STREAM = 2000  # rows per fetch when a whole table is read


@dataclass(frozen=True)
class SubjectExport:
    subject: str
    generated_at: datetime
    sections: dict[str, Rows]
    format_version: int = FORMAT_VERSION
    notice: str = EMPLOYMENT_NOTICE
    records: list[RecordKey] = field(default_factory=list)
    # CRM values no Python type reads (a created_at of 'not a date'): exported as
    # unknown (null), each named here as the run reports it (storage.crm_problems).
    unreadable: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(self.sections[name]) for name in SECTIONS}

    @property
    def holds_data(self) -> bool:
        """Whether Rapport holds anything about the subject (the CRM's own record aside)."""
        if any(rows for name, rows in self.sections.items() if name != "records"):
            return True
        health = ("health_score", "health_state", "health_trend", "health_updated_at")
        return any(row[c] is not None for row in self.sections["records"] for c in health)


def export_subject(engine: Engine, subject: str, *, now: datetime) -> SubjectExport:
    """Read everything about the subject in one transaction, so the sections agree."""
    with session_scope(engine) as session:
        resolved = resolve_subject(session=session, text=subject)
        return collect(session, resolved, now=now)


def collect(session: Session, subject: Subject, *, now: datetime) -> SubjectExport:
    refs = subject.refs
    mentions = Mentions(subject.terms)
    unreadable: list[str] = []
    sections: dict[str, Rows] = {
        "records": [_record_row(session, record, unreadable) for record in subject.records],
        **_kpi_sections(session, refs),
        "history": _history(session, refs),
        **_interaction_sections(session, refs),
        **_mailbox_sections(session, subject.mailboxes),
        "introducers": introducer_rows(session, refs),
        "mentions": _mentions(session, refs, mentions),
        "audit_events": [row._asdict() for row in audit_rows_naming(session, mentions)],
        "dataverse_pushes": pushed_rows(session, refs),
    }
    return SubjectExport(
        subject=subject.query,
        generated_at=now,
        sections={name: sections[name] for name in SECTIONS},
        records=sorted(refs),
        unreadable=unreadable,
    )


def _record_row(session: Session, record: SubjectRecord, unreadable: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "record_type": record.record_type,
        "record_id": record.record_id,
        "in_crm": record.in_crm,
        "name": record.name,
        "addresses": list(record.addresses),
        "created_at": None,
        **dict.fromkeys(HEALTH_COLUMNS),
    }
    table = HEALTH_TABLES.get(record.record_type)
    if table is not None and record.in_crm:
        found = read_row(
            session=session,
            table=table,
            row_id=record.record_id,
            columns=("created_at", *HEALTH_COLUMNS),
            handling="exported as unknown (null)",
        )
        if found is not None:
            unreadable += [str(problem) for problem in found.pop(UNREADABLE_KEY)]
            row.update(found)
    return row


def _kpi_sections(session: Session, refs: frozenset[RecordKey]) -> dict[str, Rows]:
    sections: dict[str, Rows] = {"kpis": [], **{name: [] for name in KPI_LIST_COLUMNS}}
    query = sa.select(KPI).where(ref_filter(KPI, refs)).order_by(KPI.c.record_type, KPI.c.record_id)
    for row in session.execute(query):
        values = row._asdict()
        sections["kpis"].append({name: values[name] for name in KPI_COLUMNS})
        owner = {"record_type": values["record_type"], "record_id": values["record_id"]}
        for name in KPI_LIST_COLUMNS:
            sections[name] += [
                _list_row(owner, i, item) for i, item in enumerate(values[name] or [])
            ]
    return sections


def _list_row(owner: dict[str, Any], position: int, item: Any) -> dict[str, Any]:
    # `reasons` is a list of sentences; the other lists hold objects.
    if isinstance(item, dict):
        return {**owner, **item}
    return {**owner, "position": position, "reason": item}


def _history(session: Session, refs: frozenset[RecordKey]) -> Rows:
    query = (
        sa.select(SNAPSHOT)
        .where(ref_filter(SNAPSHOT, refs))
        .order_by(SNAPSHOT.c.record_type, SNAPSHOT.c.record_id, SNAPSHOT.c.day)
    )
    return [row._asdict() for row in session.execute(query)]


def involving(refs: frozenset[RecordKey]) -> sa.ColumnElement[bool]:
    """Interactions the subject took part in, or that were logged regarding the subject."""
    as_party = sa.select(PARTY.c.interaction_key).where(ref_filter(PARTY, refs))
    return sa.or_(INTERACTION.c.key.in_(as_party), regarding_filter(refs))


def _interaction_sections(session: Session, refs: frozenset[RecordKey]) -> dict[str, Rows]:
    keys = sa.select(INTERACTION.c.key).where(involving(refs))
    columns = (INTERACTION.c[name] for name in INTERACTION_COLUMNS)
    interactions = sa.select(*columns).where(INTERACTION.c.key.in_(keys))
    parties = sa.select(PARTY).where(PARTY.c.interaction_key.in_(keys))
    party_order = (PARTY.c.interaction_key, PARTY.c.side, PARTY.c.record_type, PARTY.c.record_id)
    sightings = sa.select(SIGHTING).where(SIGHTING.c.interaction_key.in_(keys))
    sighting_order = (SIGHTING.c.interaction_key, SIGHTING.c.mailbox_id, SIGHTING.c.item_id)
    return {
        "interactions": [
            row._asdict()
            for row in session.execute(
                interactions.order_by(INTERACTION.c.occurred_at, INTERACTION.c.key)
            )
        ],
        "interaction_parties": [
            {**row._asdict(), "is_subject": (row.record_type, row.record_id) in refs}
            for row in session.execute(parties.order_by(*party_order, PARTY.c.role))
        ],
        "interaction_sightings": [
            row._asdict() for row in session.execute(sightings.order_by(*sighting_order))
        ],
    }


def _mailbox_sections(session: Session, mailbox_ids: list[str]) -> dict[str, Rows]:
    """A colleague's mailboxes and where their sync stands."""
    mailboxes = sa.select(MAILBOX).where(MAILBOX.c.id.in_(mailbox_ids)).order_by(MAILBOX.c.id)
    cursors = (
        sa.select(*(CURSOR.c[name] for name in CURSOR_COLUMNS))
        .where(CURSOR.c.mailbox_id.in_(mailbox_ids))
        .order_by(CURSOR.c.mailbox_id, CURSOR.c.folder_id)
    )
    return {
        "mailboxes": [row._asdict() for row in session.execute(mailboxes)],
        "sync_cursors": [row._asdict() for row in session.execute(cursors)],
    }


def _mentions(session: Session, refs: frozenset[RecordKey], mentions: Mentions) -> Rows:
    """Entries in other records' KPI lists that name the subject (erase removes them)."""
    found: Rows = []
    for row in other_kpi_lists(session, refs):
        for name in KPI_LIST_COLUMNS:
            found += [
                {
                    "record_type": row.record_type,
                    "record_id": row.record_id,
                    "field": name,
                    "value": item,
                }
                for item in mentions.matching(getattr(row, name) or [])
            ]
    # A deal or account that names the subject as its weakest key contact.
    weakest = sa.select(KPI.c.record_type, KPI.c.record_id, KPI.c.weakest_contact_id).where(
        weakest_contact_filter(refs)
    )
    found += [
        {"record_type": t, "record_id": i, "field": "weakest_contact", "value": contact_id}
        for t, i, contact_id in session.execute(
            weakest.order_by(KPI.c.record_type, KPI.c.record_id)
        )
    ]
    return found


def other_kpi_lists(session: Session, refs: frozenset[RecordKey]) -> Iterator[Any]:
    """The JSON lists of every KPI row not belonging to the subject, streamed."""
    query = (
        sa.select(KPI.c.record_type, KPI.c.record_id, *(KPI.c[n] for n in KPI_LIST_COLUMNS))
        .where(sa.not_(ref_filter(KPI, refs)))
        .order_by(KPI.c.record_type, KPI.c.record_id)
    )
    yield from session.execute(query.execution_options(yield_per=STREAM))


def audit_rows_naming(
    session: Session, mentions: Mentions, columns: tuple[str, ...] | None = None
) -> Iterator[Any]:
    """Audit rows (all their columns, or `columns`) whose subject or details name the
    subject, oldest first, streamed: what export shows and erasure rewrites."""
    selected = AUDIT.c if columns is None else [AUDIT.c[name] for name in columns]
    query = sa.select(*selected).order_by(AUDIT.c.id).execution_options(yield_per=STREAM)
    return (
        row
        for row in session.execute(query)
        if mentions.found_in(row.subject) or mentions.found_in(row.details)
    )

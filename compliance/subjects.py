"""Who an export or an erasure is about.

A subject is given either as an email address, which may match several
records of one person (a contact, a lead and a colleague can share it), or as
`TYPE:ID` naming one record. A record the CRM has already deleted is still a
valid subject while Rapport holds rows about it, so that a CRM-side deletion
can be followed by a Rapport-side erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlmodel import Session

from compliance.exceptions import SubjectError, UnknownSubjectError
from compliance.tables import (
    INTERACTION,
    INTRODUCER,
    KPI,
    MAILBOX,
    PARTY,
    SNAPSHOT,
    SUBJECT_TABLES,
    SUBJECT_TYPES,
    RecordKey,
    ref_filter,
    regarding_filter,
)
from storage.directory import normalise_address

ADDRESS_COLUMNS = {
    "contact": ("email", "email2", "email3"),
    "lead": ("email",),
    "system_user": ("email",),
}
NAME_COLUMN = {
    "contact": "full_name",
    "lead": "full_name",
    "system_user": "full_name",
    "opportunity": "name",
    "account": "name",
}


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    record_type: str
    record_id: str
    name: str | None = None
    addresses: tuple[str, ...] = ()
    in_crm: bool = True
    mailboxes: tuple[str, ...] = ()  # Graph object ids of a colleague's synced mailboxes

    @property
    def ref(self) -> RecordKey:
        return (self.record_type, self.record_id)


@dataclass(frozen=True, slots=True)
class Subject:
    query: str  # normalised: a lower-case address, or "type:id"
    records: tuple[SubjectRecord, ...]

    @property
    def refs(self) -> frozenset[RecordKey]:
        return frozenset(record.ref for record in self.records)

    @property
    def mailboxes(self) -> list[str]:
        return sorted({mailbox for record in self.records for mailbox in record.mailboxes})

    @property
    def terms(self) -> tuple[str, ...]:
        """Every string that identifies the subject in free text, longest first.

        Longest first so that an address is matched whole before a record id
        or a name that happens to be part of it.
        """
        found = {self.query}
        for record in self.records:
            found.update((record.record_id, *record.addresses, *record.mailboxes))
            if record.name:
                found.add(record.name)
        return tuple(sorted((t for t in found if t.strip()), key=lambda t: (-len(t), t)))


def resolve_subject(*, session: Session, text: str) -> Subject:
    """The records a subject names; raises SubjectError for anything else."""
    query = text.strip()
    record_type, separator, record_id = query.partition(":")
    if separator and record_type in SUBJECT_TYPES and record_id.strip():
        return _by_record(session, record_type, record_id.strip())
    if "@" in query and not separator:
        return _by_address(session, normalise_address(query))
    raise SubjectError(
        f"subject: {text!r} is not allowed; expected an email address or TYPE:ID with TYPE "
        f"one of {', '.join(SUBJECT_TYPES)}"
    )


def _by_address(session: Session, address: str) -> Subject:
    records = []
    for record_type, columns in ADDRESS_COLUMNS.items():
        table = SUBJECT_TABLES[record_type]
        matches = sa.or_(*(sa.func.lower(sa.func.trim(table.c[c])) == address for c in columns))
        query = _identity(record_type).where(matches).order_by(table.c.id)
        records += [_record(session, record_type, row._mapping) for row in session.execute(query)]
    if not records:
        raise UnknownSubjectError(
            f"subject: no contact, lead or system user has the address {address!r}"
        )
    return Subject(address, tuple(records))


def _by_record(session: Session, record_type: str, record_id: str) -> Subject:
    table = SUBJECT_TABLES[record_type]
    row = session.execute(_identity(record_type).where(table.c.id == record_id)).first()
    query = f"{record_type}:{record_id}"
    if row is not None:
        return Subject(query, (_record(session, record_type, row._mapping),))
    mailboxes = _mailboxes(session, record_id) if record_type == "system_user" else ()
    if mailboxes or _rapport_holds(session, (record_type, record_id)):
        record = SubjectRecord(record_type, record_id, in_crm=False, mailboxes=mailboxes)
        return Subject(query, (record,))
    raise UnknownSubjectError(
        f"subject: no {record_type} with id {record_id!r} in the CRM or in Rapport's tables"
    )


def _identity(record_type: str) -> sa.Select[Any]:
    """Only the columns that say who a record is: the CRM may hold a value no Python
    type reads in its other columns (a `created_at` of 'not a date'), which must not
    stop an export or an erasure (docs/crm-contract.md, "Values Rapport refuses")."""
    table = SUBJECT_TABLES[record_type]
    names = ("id", NAME_COLUMN[record_type], *ADDRESS_COLUMNS.get(record_type, ()))
    return sa.select(*(table.c[name] for name in dict.fromkeys(names)))


def _record(session: Session, record_type: str, values: RowMapping) -> SubjectRecord:
    addresses = (values[c] for c in ADDRESS_COLUMNS.get(record_type, ()))
    return SubjectRecord(
        record_type=record_type,
        record_id=values["id"],
        name=values[NAME_COLUMN[record_type]] or None,
        addresses=tuple(dict.fromkeys(normalise_address(a) for a in addresses if a and a.strip())),
        mailboxes=_mailboxes(session, values["id"]) if record_type == "system_user" else (),
    )


def _mailboxes(session: Session, system_user_id: str) -> tuple[str, ...]:
    query = sa.select(MAILBOX.c.id).where(MAILBOX.c.system_user_id == system_user_id)
    return tuple(session.scalars(query.order_by(MAILBOX.c.id)))


def _rapport_holds(session: Session, ref: RecordKey) -> bool:
    refs = frozenset({ref})
    probes = [
        sa.select(table.c.record_id).where(ref_filter(table, refs))
        for table in (KPI, SNAPSHOT, PARTY, INTRODUCER)
    ]
    probes.append(sa.select(INTERACTION.c.regarding_id).where(regarding_filter(refs)))
    return any(session.execute(probe.limit(1)).first() is not None for probe in probes)

"""The Core tables compliance reads and rewrites, named once.

CRM-owned tables appear here only to read a subject's identity and to clear
the `health_*` columns Rapport wrote on them; everything else in them belongs
to the CRM and is never changed by compliance.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.crm_tables import SystemUser
from storage.rapport_tables import (
    AuditEvent,
    HealthSnapshot,
    Interaction,
    InteractionParty,
    Introducer,
    RelationshipKpi,
)
from storage.sync_tables import InteractionSighting, Mailbox, SyncCursor
from storage.types import core_table
from storage.writeback import HEALTH_COLUMNS as HEALTH_COLUMNS  # re-exported for compliance
from storage.writeback import RECORD_TABLES

RecordKey = tuple[str, str]  # (record_type, record_id)

INTERACTION = core_table(Interaction)
PARTY = core_table(InteractionParty)
KPI = core_table(RelationshipKpi)
SNAPSHOT = core_table(HealthSnapshot)
AUDIT = core_table(AuditEvent)
INTRODUCER = core_table(Introducer)  # who knows whom: record_type/record_id + system_user_id
# The Exchange path: a colleague's mailbox (keyed by their Graph object id),
# its delta cursors, and which mailbox saw which interaction.
MAILBOX = core_table(Mailbox)
CURSOR = core_table(SyncCursor)
SIGHTING = core_table(InteractionSighting)

# Records that carry Rapport's health columns, and the people who can be subjects.
HEALTH_TABLES: dict[str, sa.Table] = RECORD_TABLES  # the ones write-back writes
SUBJECT_TABLES: dict[str, sa.Table] = {**HEALTH_TABLES, "system_user": core_table(SystemUser)}
SUBJECT_TYPES = tuple(SUBJECT_TABLES)


def ref_filter(
    table: sa.Table, refs: frozenset[RecordKey] | list[RecordKey]
) -> sa.ColumnElement[bool]:
    """`(record_type, record_id) IN refs`, spelled so both SQLite and PostgreSQL take it."""
    return sa.or_(
        sa.false(),
        *(
            sa.and_(table.c.record_type == record_type, table.c.record_id == record_id)
            for record_type, record_id in sorted(refs)
        ),
    )


def regarding_filter(refs: frozenset[RecordKey]) -> sa.ColumnElement[bool]:
    """Interactions logged in the CRM "regarding" one of the records."""
    return sa.or_(
        sa.false(),
        *(
            sa.and_(INTERACTION.c.regarding_type == t, INTERACTION.c.regarding_id == i)
            for t, i in sorted(refs)
        ),
    )


# Who can be a deal's or account's weakest key contact (relationship_kpi.weakest_contact_id).
KEY_CONTACT_TYPES = ("contact", "lead")


def weakest_contact_filter(refs: frozenset[RecordKey]) -> sa.ColumnElement[bool]:
    """Other records' KPI rows whose weakest key contact is one of these contacts or leads."""
    people = sorted({i for t, i in refs if t in KEY_CONTACT_TYPES})
    return sa.and_(KPI.c.weakest_contact_id.in_(people), sa.not_(ref_filter(KPI, refs)))

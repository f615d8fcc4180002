"""Erasing a data subject from Rapport's tables, in one transaction, audited.

What goes is decided by `erase_plan.plan_erasure` (see its docstring for the
rules); this module applies a plan with bulk statements. The CRM's own tables
are left alone except for the `health_*` columns Rapport wrote: the CRM owns
its records and activities, and erasing them there is the CRM's job. So that
they do not come back from there, the subject is put on the suppression list
(compliance.suppression) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from compliance.dataverse import forget_pushes
from compliance.erase_plan import WEAKEST_COLUMNS, ErasurePlan, plan_erasure
from compliance.export_layout import KPI_LIST_COLUMNS
from compliance.hashing import SubjectHasher, store_hasher
from compliance.introducers import erase_introducers
from compliance.mentions import Mentions
from compliance.subjects import resolve_subject
from compliance.suppression import pending_suppression, suppress_subject
from compliance.tables import (
    AUDIT,
    CURSOR,
    INTERACTION,
    KPI,
    MAILBOX,
    PARTY,
    SIGHTING,
    SNAPSHOT,
    RecordKey,
    ref_filter,
    weakest_contact_filter,
)
from storage.audit import record_event
from storage.engine import session_scope
from storage.interaction_store import chunks, delete_interactions, refresh_packed_parties
from storage.suppression import hold_suppression_lock
from storage.writeback import clear_health

ERASE_COMMAND, ERASE_ACTION = "erase", "subject_erased"


@dataclass(frozen=True)
class ErasureReport:
    subject: str  # as resolved; shown to the operator, never stored
    records: list[RecordKey]
    counts: dict[str, int]
    dry_run: bool
    subject_token: str | None = None  # how the audit log names the subject from now on

    @property
    def removed_anything(self) -> bool:
        return any(self.counts.values())


def erase_subject(engine: Engine, subject: str, *, now: datetime, dry_run: bool) -> ErasureReport:
    """Erase (or, with dry_run, only count) everything Rapport holds about the subject.

    Idempotent: a second run finds nothing left and reports zero counts.
    """
    with session_scope(engine) as session:
        if not dry_run:
            # Before reading anything: a run in flight then erases the subject again
            # when it ends, or has written all it will (compliance.late_writes).
            hold_suppression_lock(session=session)
        resolved = resolve_subject(session=session, text=subject)
        plan = plan_erasure(session, resolved)
        report = ErasureReport(
            subject=resolved.query,
            records=sorted(resolved.refs),
            counts={**plan.counts(), "erased_subject": pending_suppression(session, resolved)},
            dry_run=dry_run,
        )
        if dry_run:
            return report
        hasher = store_hasher(session=session, now=now)
        apply_plan(session, plan, hasher)
        # Durable: the CRM may still hold the subject; the next run must not bring them back.
        suppress_subject(session, resolved, hasher, now)
        token = hasher.token(resolved.query)
        record_event(
            session=session,
            at=now,
            command=ERASE_COMMAND,
            action=ERASE_ACTION,
            subject=token,
            details={"counts": report.counts},
        )
    return replace(report, subject_token=token)


def apply_plan(session: Session, plan: ErasurePlan, hasher: SubjectHasher) -> None:
    refs = plan.subject.refs
    _delete_exchange_state(session, plan)
    delete_interactions(session=session, keys=plan.interactions)
    _delete_party_rows(session, refs)
    for batch in chunks(plan.regarding):
        session.execute(
            sa.update(INTERACTION)
            .where(INTERACTION.c.key.in_(batch))
            .values(regarding_type=None, regarding_id=None)
        )
    session.execute(sa.delete(KPI).where(ref_filter(KPI, refs)))
    session.execute(sa.delete(SNAPSHOT).where(ref_filter(SNAPSHOT, refs)))
    _clear_health(session, plan.crm_health)
    _rewrite_kpi_lists(session, plan.kpi_rewrites)
    session.execute(
        sa.update(KPI).where(weakest_contact_filter(refs)).values(dict.fromkeys(WEAKEST_COLUMNS))
    )
    erase_introducers(session, plan.subject, hasher)
    forget_pushes(session, refs)  # the next push empties Rapport's columns in Dataverse
    _hash_audit_rows(session, plan, hasher)


def _delete_exchange_state(session: Session, plan: ErasurePlan) -> None:
    mailboxes = plan.subject.mailboxes
    for batch in chunks(plan.interactions):
        session.execute(sa.delete(SIGHTING).where(SIGHTING.c.interaction_key.in_(batch)))
    session.execute(sa.delete(SIGHTING).where(SIGHTING.c.mailbox_id.in_(mailboxes)))
    session.execute(sa.delete(CURSOR).where(CURSOR.c.mailbox_id.in_(mailboxes)))
    session.execute(sa.delete(MAILBOX).where(MAILBOX.c.id.in_(mailboxes)))


def _delete_party_rows(session: Session, refs: frozenset[RecordKey]) -> None:
    """The subject's party rows on the interactions that stay, and the packed copy of
    those interactions' parties (storage.packed_parties) rebuilt from what remains."""
    on = sa.select(PARTY.c.interaction_key).where(ref_filter(PARTY, refs)).distinct()
    # Read before the delete: afterwards no row says which interactions the subject was on.
    shared = list(session.scalars(on))
    session.execute(sa.delete(PARTY).where(ref_filter(PARTY, refs)))
    refresh_packed_parties(session=session, keys=shared)


def _clear_health(session: Session, records: list[RecordKey]) -> None:
    for record_type, record_id in records:
        clear_health(session=session, record_type=record_type, record_id=record_id)


def _rewrite_kpi_lists(session: Session, rewrites: list[dict[str, Any]]) -> None:
    if not rewrites:
        return
    statement = (
        sa.update(KPI)
        .where(KPI.c.record_type == sa.bindparam("b_type"), KPI.c.record_id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"v_{name}") for name in KPI_LIST_COLUMNS})
    )
    session.execute(
        statement,
        [
            {
                "b_type": row["record_type"],
                "b_id": row["record_id"],
                **{f"v_{name}": row[name] for name in KPI_LIST_COLUMNS},
            }
            for row in rewrites
        ],
    )


def _hash_audit_rows(session: Session, plan: ErasurePlan, hasher: SubjectHasher) -> None:
    if not plan.audit_rows:
        return
    mentions = Mentions(plan.subject.terms)
    statement = (
        sa.update(AUDIT)
        .where(AUDIT.c.id == sa.bindparam("b_id"))
        .values(subject=sa.bindparam("v_subject"), details=sa.bindparam("v_details"))
    )
    session.execute(
        statement,
        [
            {
                "b_id": row.id,
                "v_subject": mentions.replaced(row.subject, hasher.token),
                "v_details": mentions.replaced(row.details, hasher.token),
            }
            for row in plan.audit_rows
        ],
    )

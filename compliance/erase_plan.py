"""What an erasure of one subject would remove or rewrite, read without changing anything.

The rules, and why:
- an interaction whose external parties are all the subject goes entirely,
  with its parties: without the subject it describes nobody's relationship;
- on any other interaction only the subject's party rows go, so the history
  of the other people on it stays intact (a colleague who erases themselves
  does not take their customers' history with them);
- an interaction logged "regarding" the subject keeps its parties and loses
  the link;
- the subject's KPI rows and daily snapshots go, and the health columns
  Rapport wrote on the subject's CRM record are cleared;
- a colleague's mailbox rows go with their delta cursors and sightings (which
  item of their mailbox was which interaction); the interactions themselves
  stay, as the customers' history;
- other records' KPI lists drop the entries that name the subject (a
  most-contacted colleague, a reason naming the person); factor details,
  whose shape scoring relies on, have the name blanked instead; a deal or
  account whose weakest key contact is the subject loses that entry;
- audit rows keep what happened but name the subject only by a one-way token;
- who-knows-whom rows go where the subject is the person introduced or the
  colleague; a colleague's opt-out stays, as a one-way token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from compliance.export import audit_rows_naming, other_kpi_lists
from compliance.export_layout import KPI_LIST_COLUMNS
from compliance.introducers import count_introducers, opted_out_ids
from compliance.mentions import Mentions
from compliance.subjects import Subject
from compliance.tables import (
    CURSOR,
    HEALTH_COLUMNS,
    HEALTH_TABLES,
    INTERACTION,
    KPI,
    PARTY,
    SIGHTING,
    SNAPSHOT,
    RecordKey,
    ref_filter,
    regarding_filter,
    weakest_contact_filter,
)

# KPI lists blanked in place (their shape matters to readers); the others drop whole entries.
REDACTED_IN_PLACE = frozenset({"factors"})
# A deal's or account's weakest key contact (a contact or lead id), cleared together.
WEAKEST_COLUMNS = (
    "weakest_contact_id",
    "weakest_contact_role",
    "weakest_contact_score",
    "weakest_contact_since",
)
ERASED = "[erased]"


@dataclass
class ErasurePlan:
    subject: Subject
    interactions: list[str] = field(default_factory=list)  # keys deleted whole
    party_rows: int = 0
    sightings: int = 0
    regarding: list[str] = field(default_factory=list)  # keys that lose their link
    kpi_rows: int = 0
    snapshots: int = 0
    crm_health: list[RecordKey] = field(default_factory=list)
    cursors: int = 0
    kpi_rewrites: list[dict[str, Any]] = field(default_factory=list)
    weakest_contact: list[RecordKey] = field(default_factory=list)  # KPI rows naming them so
    audit_rows: list[Any] = field(default_factory=list)  # rows: id, subject, details
    introducers: int = 0  # who-knows-whom rows naming the subject either way
    opt_outs: int = 0  # opt-out entries naming the subject in clear (rewritten as tokens)

    def counts(self) -> dict[str, int]:
        return {
            "interaction": len(self.interactions),
            "interaction_party": self.party_rows,
            "interaction_sighting": self.sightings,
            "interaction_regarding": len(self.regarding),
            "relationship_kpi": self.kpi_rows,
            "relationship_kpi_mentions": len(self.mentioning_kpis),
            "health_snapshot": self.snapshots,
            "crm_health": len(self.crm_health),
            "mailbox": len(self.subject.mailboxes),
            "sync_cursor": self.cursors,
            "audit_event": len(self.audit_rows),
            "introducer": self.introducers,
            "introducer_opt_out": self.opt_outs,
        }

    @property
    def mentioning_kpis(self) -> set[RecordKey]:
        """Other records' KPI rows that are rewritten because they name the subject."""
        rewritten = {(row["record_type"], row["record_id"]) for row in self.kpi_rewrites}
        return rewritten | set(self.weakest_contact)


def plan_erasure(session: Session, subject: Subject) -> ErasurePlan:
    refs = subject.refs
    mentions = Mentions(subject.terms)
    plan = ErasurePlan(subject)
    plan.interactions = _sole_party_interactions(session, refs)
    plan.party_rows = _party_rows(session, refs)
    plan.sightings = _count(session, SIGHTING, sightings_filter(plan.interactions, subject))
    plan.regarding = sorted(set(_regarding(session, refs)) - set(plan.interactions))
    plan.kpi_rows = _count(session, KPI, ref_filter(KPI, refs))
    plan.snapshots = _count(session, SNAPSHOT, ref_filter(SNAPSHOT, refs))
    plan.crm_health = _scored_records(session, refs)
    plan.cursors = _count(session, CURSOR, CURSOR.c.mailbox_id.in_(subject.mailboxes))
    plan.kpi_rewrites = _kpi_rewrites(session, refs, mentions)
    plan.weakest_contact = _weakest_contact_of_others(session, refs)
    plan.audit_rows = list(audit_rows_naming(session, mentions, ("id", "subject", "details")))
    plan.introducers = count_introducers(session, refs)
    plan.opt_outs = len(opted_out_ids(session, subject))
    return plan


def sightings_filter(keys: list[str], subject: Subject) -> sa.ColumnElement[bool]:
    """Sightings of interactions that go whole, and everything the subject's mailboxes saw."""
    return sa.or_(
        SIGHTING.c.interaction_key.in_(keys), SIGHTING.c.mailbox_id.in_(subject.mailboxes)
    )


def _count(session: Session, table: sa.Table, where: sa.ColumnElement[bool]) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(where)
    return int(session.execute(query).scalar_one())


def _sole_party_query(refs: frozenset[RecordKey]) -> sa.Select[Any]:
    """Keys of interactions on which every external party is the subject."""
    external = PARTY.c.side == "external"
    as_external = sa.select(PARTY.c.interaction_key).where(ref_filter(PARTY, refs), external)
    shared = sa.select(PARTY.c.interaction_key).where(
        PARTY.c.interaction_key.in_(as_external), external, sa.not_(ref_filter(PARTY, refs))
    )
    return sa.select(INTERACTION.c.key).where(
        INTERACTION.c.key.in_(as_external), INTERACTION.c.key.not_in(shared)
    )


def _sole_party_interactions(session: Session, refs: frozenset[RecordKey]) -> list[str]:
    return list(session.scalars(_sole_party_query(refs).order_by(INTERACTION.c.key)))


def _party_rows(session: Session, refs: frozenset[RecordKey]) -> int:
    """Rows on interactions that go whole, plus the subject's rows elsewhere, each once."""
    doomed = PARTY.c.interaction_key.in_(_sole_party_query(refs))
    return _count(session, PARTY, sa.or_(doomed, ref_filter(PARTY, refs)))


def _regarding(session: Session, refs: frozenset[RecordKey]) -> list[str]:
    query = sa.select(INTERACTION.c.key).where(regarding_filter(refs))
    return list(session.scalars(query))


def _scored_records(session: Session, refs: frozenset[RecordKey]) -> list[RecordKey]:
    """The subject's CRM records that still carry a health value Rapport wrote."""
    found = []
    for record_type, record_id in sorted(refs):
        table = HEALTH_TABLES.get(record_type)
        if table is None:
            continue
        written = sa.or_(*(table.c[c].is_not(None) for c in HEALTH_COLUMNS))
        query = sa.select(table.c.id).where(table.c.id == record_id, written)
        found += [(record_type, rid) for rid in session.scalars(query)]
    return found


def _kpi_rewrites(
    session: Session, refs: frozenset[RecordKey], mentions: Mentions
) -> list[dict[str, Any]]:
    rewrites = []
    for row in other_kpi_lists(session, refs):
        lists = {name: getattr(row, name) or [] for name in KPI_LIST_COLUMNS}
        cleaned = {name: _without_subject(name, items, mentions) for name, items in lists.items()}
        if cleaned != lists:
            rewrites.append({"record_type": row.record_type, "record_id": row.record_id, **cleaned})
    return rewrites


def _weakest_contact_of_others(session: Session, refs: frozenset[RecordKey]) -> list[RecordKey]:
    query = sa.select(KPI.c.record_type, KPI.c.record_id).where(weakest_contact_filter(refs))
    return sorted((record_type, record_id) for record_type, record_id in session.execute(query))


def _without_subject(name: str, items: list[Any], mentions: Mentions) -> list[Any]:
    if name in REDACTED_IN_PLACE:
        return list(mentions.replaced(items, lambda _match: ERASED))
    return mentions.kept(items)

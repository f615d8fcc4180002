"""The CRM-data path: completed CRM activities into `interaction` rows.

Every run recomputes what the interactions should be from the CRM tables
and writes only the difference, so re-running changes nothing and an
activity that was deleted or cancelled disappears on the next run. A broken
activity row is reported and skipped; whatever was stored for it stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.crm_activity_rules import RowProblem, RowRejected, interaction_key, to_interaction
from storage.crm_tables import CrmActivity, CrmActivityParty
from storage.directory import load_directory
from storage.engine import session_scope
from storage.interaction_store import (
    INTERACTION,
    InteractionRecord,
    WriteCounts,
    chunks,
    load_records,
    sync_records,
)
from storage.mailbox_store import exchange_covered_users
from storage.types import core_table

STREAM = 10_000  # rows fetched per round trip; streaming keeps memory flat
ACTIVITY = core_table(CrmActivity)
ACTIVITY_PARTY = core_table(CrmActivityParty)


@dataclass
class CrmIngestReport:
    activities: int = 0
    covered_by_exchange: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    problems: list[RowProblem] = field(default_factory=list)


def _parties_by_activity(session: Session) -> dict[str, list[Any]]:
    parties: dict[str, list[Any]] = {}
    query = sa.select(ACTIVITY_PARTY).execution_options(yield_per=STREAM)
    for row in session.execute(query):
        parties.setdefault(row.activity_id, []).append(row)
    return parties


def _seen_by_exchange(session: Session, keys: list[str]) -> set[str]:
    """Keys already present from Exchange: that source wins, the CRM copy is skipped."""
    seen: set[str] = set()
    for batch in chunks(keys):
        query = sa.select(INTERACTION.c.key).where(
            INTERACTION.c.key.in_(batch), INTERACTION.c.source != "crm"
        )
        seen.update(session.scalars(query))
    return seen


def _covered_by_exchange(record: InteractionRecord, covered: dict[str, datetime]) -> bool:
    """A CRM-logged email or meeting whose every colleague's mailbox Exchange already reads.

    Such a mailbox's own copy is the better source; counting both would
    count one conversation twice. Calls and tasks exist only in the CRM.
    """
    if record.kind not in ("email", "meeting"):
        return False
    internal = [party.record_id for party in record.parties if party.side == "internal"]
    return bool(internal) and all(
        user in covered and record.occurred_at >= covered[user] for user in internal
    )


def desired_interactions(
    session: Session, report: CrmIngestReport
) -> tuple[dict[str, InteractionRecord], set[str]]:
    """What the interactions should be, and the keys of rejected rows to keep as stored."""
    directory = load_directory(session=session)
    covered = exchange_covered_users(session=session)
    parties = _parties_by_activity(session)
    desired: dict[str, InteractionRecord] = {}
    rejected: set[str] = set()
    query = sa.select(ACTIVITY).order_by(ACTIVITY.c.id).execution_options(yield_per=STREAM)
    for activity in session.execute(query):
        report.activities += 1
        try:
            record = to_interaction(activity, parties.get(activity.id, []), directory)
        except RowRejected as rejection:
            report.problems.append(rejection.problem)
            rejected.add(interaction_key(activity))
            continue
        if record is None:
            continue
        if _covered_by_exchange(record, covered):
            report.covered_by_exchange += 1
            continue
        desired[record.key] = record
    return desired, rejected


def ingest_crm_activities(engine: Engine) -> CrmIngestReport:
    report = CrmIngestReport()
    with session_scope(engine) as session:
        desired, rejected = desired_interactions(session, report)
        for key in _seen_by_exchange(session, [k for k in desired if k.startswith("msg:")]):
            del desired[key]
        stored = load_records(session=session, source="crm")
        report.counts = sync_records(
            session=session, desired=desired, stored=stored, keep=frozenset(rejected)
        )
    return report

"""The CRM-data path: completed CRM activities into `interaction` rows.

Every run recomputes what the interactions should be from the CRM tables
and writes only the difference, so re-running changes nothing and an
activity that was deleted or cancelled disappears on the next run. A broken
activity row is reported and skipped; whatever was stored for it stays.

Two things the CRM still holds are not taken in again: activities older than
the retention window (`not_before`, so a purge is not undone by the next
run), and erased subjects (storage.suppression: the directory leaves them
out, and a "regarding" link to an erased record is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.crm_activity_rules import RowProblem, RowRejected, interaction_key, to_interaction
from storage.crm_tables import CrmActivity, CrmActivityParty
from storage.directory import Directory, load_directory
from storage.engine import session_scope
from storage.interaction_locks import lock_all_interactions
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
    beyond_retention: int = 0  # activities older than the retention window, not taken in
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


def _without_erased_regarding(
    record: InteractionRecord, directory: Directory
) -> InteractionRecord | None:
    """Drop a "regarding" link to an erased record; with it goes an activity that
    had no customer of its own and was kept only for that link."""
    if not directory.record_erased(record.regarding_type, record.regarding_id):
        return record
    if not any(party.side == "external" for party in record.parties):
        return None
    return replace(record, regarding_type=None, regarding_id=None)


def desired_interactions(
    session: Session, report: CrmIngestReport, not_before: datetime | None = None
) -> tuple[dict[str, InteractionRecord], set[str]]:
    """What the interactions should be, and the keys of rejected rows to keep as stored.

    `not_before` is the retention cutoff: older activities are left in the CRM.
    """
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
        if not_before is not None and record.occurred_at < not_before:
            report.beyond_retention += 1
            continue
        record = _without_erased_regarding(record, directory)
        if record is None:
            continue
        if _covered_by_exchange(record, covered):
            report.covered_by_exchange += 1
            continue
        desired[record.key] = record
    return desired, rejected


def ingest_crm_activities(engine: Engine, *, not_before: datetime | None = None) -> CrmIngestReport:
    """`not_before`: the retention cutoff (now minus the interaction window); the caller
    reads it from the settings, storage does not."""
    report = CrmIngestReport()
    with session_scope(engine) as session:
        desired, rejected = desired_interactions(session, report, not_before)
        stored = load_records(session=session, source="crm")
        # An Exchange sync (on another replica) may be committing the same `msg:` keys:
        # hold every key (one lock) from before the check until this transaction ends.
        lock_all_interactions(session)
        shared = [key for key in desired.keys() | stored.keys() if key.startswith("msg:")]
        for key in _seen_by_exchange(session, shared):
            desired.pop(key, None)
            stored.pop(key, None)  # Exchange replaced the CRM copy after it was read
        report.counts = sync_records(
            session=session, desired=desired, stored=stored, keep=frozenset(rejected)
        )
    return report

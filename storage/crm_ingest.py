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

from storage.crm_activity_rows import ActivityRow, iter_activities, parties_by_activity
from storage.crm_activity_rules import TimeWindow, interaction_key, to_interaction
from storage.crm_digests import ActivityDigest, Digester, load_digests, replace_digests
from storage.crm_problems import RowProblem, RowProblems, RowRejected
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
from storage.raw_rows import Unreadable, raw_rows

# Beyond this many changed interactions one full read beats reading them by key.
KEYED_READ_LIMIT = 20_000


@dataclass
class CrmIngestReport:
    activities: int = 0
    covered_by_exchange: int = 0
    beyond_retention: int = 0  # activities older than the retention window, not taken in
    unchanged: int = 0  # activities whose inputs did not change since the last run
    counts: WriteCounts = field(default_factory=WriteCounts)
    # CRM values outside the contract: counted by column, the first ones kept in full.
    problems: RowProblems = field(default_factory=RowProblems)


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


class _Scan:
    """One pass over the CRM's activities: what to write, and what the pass rests on."""

    def __init__(self) -> None:
        self.desired: dict[str, InteractionRecord] = {}
        self.rejected: set[str] = set()  # keys of broken rows: what is stored stays
        self.digests: list[ActivityDigest] = []  # for the activities derived this pass
        self.derived: list[str] = []  # their activity ids, and those of deleted activities
        # Interaction keys whose stored rows this pass may change, and those it
        # leaves alone because their activities did not change.
        self.affected: set[str] = set()
        self.unchanged_keys: set[str] = set()
        self.unchanged_interactions = 0
        self.skipped = 0  # activities not derived again

    @property
    def incremental(self) -> bool:
        """Whether the pass skipped anything; if not, it is a full pass."""
        return self.skipped > 0


@dataclass(frozen=True)
class _Context:
    """What a pass derives every activity against."""

    directory: Directory
    covered: dict[str, datetime]
    not_before: datetime | None
    window: TimeWindow


def _derive(
    activity: Any, parties: list[Any], context: _Context, noted: list[RowProblem]
) -> tuple[str, InteractionRecord | None]:
    """(outcome, the interaction if there is one); raises RowRejected for a broken row."""
    directory, covered, not_before = context.directory, context.covered, context.not_before
    record = to_interaction(activity, parties, directory, window=context.window, noted=noted)
    if record is None:
        return "none", None
    if not_before is not None and record.occurred_at < not_before:
        return "beyond_retention", None
    record = _without_erased_regarding(record, directory)
    if record is None:
        return "none", None
    if _covered_by_exchange(record, covered):
        return "covered", None
    return "interaction", record


def _count(report: CrmIngestReport, outcome: str) -> None:
    if outcome == "covered":
        report.covered_by_exchange += 1
    elif outcome == "beyond_retention":
        report.beyond_retention += 1


def _scan(
    session: Session,
    report: CrmIngestReport,
    not_before: datetime | None,
    window: TimeWindow,
    previous: dict[str, ActivityDigest],
) -> _Scan:
    """Derive every activity whose digest differs from `previous` (all, if it is empty).

    `previous` is consumed: what is left afterwards are deleted activities.
    """
    directory = load_directory(session=session)
    covered = exchange_covered_users(session=session)
    context = _Context(directory, covered, not_before, window)
    digester = Digester(directory, covered, not_before, window)
    parties = parties_by_activity(session=session)
    scan = _Scan()
    unreadable: list[Unreadable] = []
    for activity in iter_activities(session=session, unreadable=unreadable):
        report.activities += 1
        own_parties = parties.get(activity.id, [])
        digest = digester.digest(activity, own_parties)
        before = previous.pop(activity.id, None)
        if before is not None and before.digest == digest:
            scan.skipped += 1
            _count(report, before.outcome)
            if before.interaction_key is not None:
                scan.unchanged_keys.add(before.interaction_key)
                scan.unchanged_interactions += 1
            continue
        _forget(scan, activity, before)
        noted: list[RowProblem] = []
        try:
            outcome, record = _derive(activity, own_parties, context, noted)
        except RowRejected as rejection:
            _reject(scan, report, activity, [*noted, rejection.problem])
            continue
        _count(report, outcome)
        key = None if record is None else record.key
        if record is not None:
            scan.desired[record.key] = record
            scan.affected.add(record.key)
        for problem in noted:
            report.problems.add(problem)
        if not noted:
            # An activity with a problem keeps no digest: it is checked, and reported,
            # again on every run until the CRM corrects it.
            scan.digests.append(ActivityDigest(activity.id, digest, outcome, key))
    for row, columns in unreadable:
        report.activities += 1
        _forget(scan, row, previous.pop(row.id, None))
        problems = [
            RowProblem("crm_activity", row.id, column, getattr(row, column), "a timestamp")
            for column in columns
        ]
        _reject(scan, report, row, problems)
    for gone in previous.values():
        scan.derived.append(gone.activity_id)
        if gone.interaction_key is not None:
            scan.affected.add(gone.interaction_key)
    scan.affected |= scan.rejected
    report.unchanged = scan.skipped
    return scan


def _forget(scan: _Scan, activity: ActivityRow, before: ActivityDigest | None) -> None:
    """The activity is derived again: its old digest goes, its old interaction may change."""
    scan.derived.append(activity.id)
    if before is not None and before.interaction_key is not None:
        scan.affected.add(before.interaction_key)


def _reject(
    scan: _Scan, report: CrmIngestReport, activity: ActivityRow, problems: list[RowProblem]
) -> None:
    """A skipped row: reported, and what is stored for it stays (no digest is kept)."""
    for problem in problems:
        report.problems.add(problem)
    scan.rejected.add(interaction_key(activity))


def _still_holds(session: Session, scan: _Scan) -> bool:
    """Whether the stored CRM interactions are what the unchanged activities made them.

    Two activities sharing an interaction key (one email tracked twice), a
    CRM copy that Exchange replaced and then lost, a row removed by hand: in
    any of these the skipped activities no longer account for what is
    stored, and only a full pass gives the result a full pass would give.
    """
    if scan.affected & scan.unchanged_keys:
        return False
    query = "SELECT key FROM interaction WHERE source = 'crm'"
    stored = {key for (key,) in raw_rows(session, query)}
    if stored - scan.unchanged_keys - scan.affected:
        return False  # a CRM interaction no activity accounts for
    missing = scan.unchanged_keys - stored
    return not missing or _seen_by_exchange(session, list(missing)) == missing


def _stored_records(session: Session, scan: _Scan) -> dict[str, InteractionRecord]:
    """The stored CRM interactions the pass may change: all of them after a full pass."""
    if not scan.incremental:
        return load_records(session=session, source="crm")
    if len(scan.affected) <= KEYED_READ_LIMIT:
        return load_records(session=session, source="crm", keys=scan.affected)
    everything = load_records(session=session, source="crm")
    return {key: record for key, record in everything.items() if key in scan.affected}


def ingest_crm_activities(
    engine: Engine, *, not_before: datetime | None = None, now: datetime | None = None
) -> CrmIngestReport:
    """`not_before`: the retention cutoff (now minus the interaction window); the caller
    reads it from the settings, storage does not. `now`: the run's now, which the
    rules judge times after it by (a completed activity dated later is skipped);
    without it only the bounds that do not move with the clock are checked.

    Only activities whose inputs changed since the last run are derived again
    (storage.crm_digests); the result is the one a full pass would give.
    """
    with session_scope(engine) as session:
        window = TimeWindow.around(now)
        report = CrmIngestReport()
        scan = _scan(session, report, not_before, window, load_digests(session=session))
        # An Exchange sync (on another replica) may be committing the same `msg:` keys:
        # hold every key (one lock) from before the checks until this transaction ends.
        lock_all_interactions(session)
        if scan.incremental and not _still_holds(session, scan):
            report = CrmIngestReport()
            scan = _scan(session, report, not_before, window, {})
        stored = _stored_records(session, scan)
        desired = scan.desired
        shared = [key for key in desired.keys() | stored.keys() if key.startswith("msg:")]
        for key in _seen_by_exchange(session, shared):
            desired.pop(key, None)
            stored.pop(key, None)  # Exchange replaced the CRM copy after it was read
        report.counts = sync_records(
            session=session, desired=desired, stored=stored, keep=frozenset(scan.rejected)
        )
        report.counts.unchanged += scan.unchanged_interactions
        replace_digests(
            session=session,
            rows=scan.digests,
            forget=scan.derived if scan.incremental else None,
        )
    return report

"""The CRM-data path: completed CRM activities into `interaction` rows.

Every run recomputes what the interactions should be from the CRM tables
and writes only the difference, so re-running changes nothing and an
activity that was deleted or cancelled disappears on the next run. A broken
activity row is reported and skipped; whatever was stored for it stays.

A tick reads only what changed since the last one (storage.tick_changes): the
activities the change log names, those whose time crossed one of the rules'
moving bounds (the retention cutoff, now, the planning horizon), those that
carried a problem, and those whose interaction someone else wrote (Exchange,
retention, erasure), and those with a party naming a contact or lead that
was inserted or updated, by reference or by an address it carried or
carries (storage.person_activities). A change to the rest of the directory
(users, erased subjects, a contact or lead deleted), to Exchange's coverage
or to the rules, or a digest table that is not what the last pass left
(written by anyone else: migration 0016), makes it a full pass, as before. The
first pass into an empty store on PostgreSQL is set-based
(storage.crm_bulk_ingest): only rows with problems come through here.

Two things the CRM still holds are not taken in again: activities older than
the retention window (`not_before`, so a purge is not undone by the next
run), and erased subjects (storage.suppression: the directory leaves them
out, and a "regarding" link to an erased record is dropped).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.bulk import indexes_built_after
from storage.crm_activity_rows import (
    ActivityPartyRow,
    ActivityRow,
    activities_by_id,
    iter_activities,
    parties_by_activity,
)
from storage.crm_activity_rules import TimeWindow, interaction_key, to_interaction
from storage.crm_bulk_ingest import bulk_first_ingest
from storage.crm_digests import (
    ActivityDigest,
    Digester,
    context_fingerprint,
    digest_count,
    digests_of_keys,
    load_digests,
    outcome_counts,
    replace_digests,
    write_digests,
)
from storage.crm_problems import RowProblem, RowProblems, RowRejected
from storage.directory import Directory, kept_directory
from storage.engine import is_postgres, session_scope
from storage.interaction_locks import lock_all_interactions
from storage.interaction_log_pause import paused_interaction_log, pend_every_stored_record
from storage.interaction_store import (
    INTERACTION,
    InteractionRecord,
    WriteCounts,
    key_chunks,
    load_records,
    one_of,
    sync_records,
)
from storage.mailbox_store import exchange_covered_users
from storage.person_activities import activities_naming
from storage.raw_rows import Unreadable, raw_rows
from storage.suppression import load_suppression
from storage.tick_changes import (
    Deletes,
    InteractionChanges,
    PersonChanges,
    Ref,
    TickMemory,
    add_pending,
    forget_activity_changes,
    read_state,
    recheck_count,
    rechecks,
    replace_rechecks,
    take_activity_changes,
    take_interaction_changes,
    take_person_changes,
    take_record_changes,
    write_state,
)

# Beyond this many changed interactions one full read beats reading them by key.
KEYED_READ_LIMIT = 20_000
# Beyond this many activities to derive, one full pass beats reading them by id.
INCREMENTAL_LIMIT = 100_000
# A change in one of these makes the next pass a full one: the directory every party is
# matched against, and a CRM table emptied at once (TRUNCATE logs no rows).
FULL_PASS_TABLES = frozenset(
    {"system_user", "contact", "lead", "erased_subject", "crm_activity", "crm_activity_party"}
)
# Marked in crm_record_change when anyone but a pass writes the digests (migration 0016):
# the counts kept in tick_state no longer hold. Not a record table: no regrade.
DIGEST_TABLE = "crm_activity_digest"


@dataclass
class CrmIngestReport:
    activities: int = 0
    covered_by_exchange: int = 0
    beyond_retention: int = 0  # activities older than the retention window, not taken in
    unchanged: int = 0  # activities whose inputs did not change since the last run
    counts: WriteCounts = field(default_factory=WriteCounts)
    # CRM values outside the contract: counted by column, the first ones kept in full.
    problems: RowProblems = field(default_factory=RowProblems)
    incremental: bool = False  # only what the change logs named was derived
    derived: int = 0  # activities derived (again) this pass
    bulk: int = 0  # of which derived in SQL (a first ingest on PostgreSQL)
    # Record tables that changed in a column Rapport reads since the last pass.
    tables_changed: frozenset[str] = frozenset()


def _seen_by_exchange(session: Session, keys: list[str]) -> set[str]:
    """Keys already present from Exchange: that source wins, the CRM copy is skipped."""
    seen: set[str] = set()
    postgres = is_postgres(session)
    for batch in key_chunks(postgres, keys):
        query = sa.select(INTERACTION.c.key).where(
            one_of(postgres, INTERACTION.c.key, batch), INTERACTION.c.source != "crm"
        )
        seen.update(session.scalars(query))
    return seen


def _covered_by_exchange(record: InteractionRecord, covered: dict[str, datetime]) -> bool:
    """A CRM-logged email or meeting whose every colleague's mailbox Exchange already reads.

    Such a mailbox's own copy is the better source; counting both would
    count one conversation twice. Calls and tasks exist only in the CRM.
    """
    if not covered or record.kind not in ("email", "meeting"):
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
        self.forgotten: Counter[str] = Counter()  # the outcomes of their digests (which go)
        # The outcomes of the digests that stay as they are (their activities did not change).
        self.unchanged_outcomes: Counter[str] = Counter()
        # Interaction keys whose stored rows this pass may change, and those it
        # leaves alone because their activities did not change.
        self.affected: set[str] = set()
        self.unchanged_keys: set[str] = set()
        self.unchanged_interactions = 0
        self.skipped = 0  # activities not derived again
        self.partial = False  # only some activities were read
        self.read: set[str] = set()
        self.recheck: set[str] = set()  # activities with a problem: no digest kept
        self.undigested: Counter[str] = Counter()  # their outcomes
        # A first ingest on PostgreSQL: activities derived, and interactions written, in SQL
        # (with the rest read here, every activity was read).
        self.in_bulk = False
        self.bulk_derived = 0
        self.bulk_added = 0
        self.bulk_outcomes: Counter[str] = Counter()  # of the digests the SQL wrote

    @property
    def incremental(self) -> bool:
        """Whether the pass skipped or left out anything; if not, it is a full pass."""
        return self.skipped > 0 or self.partial


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


@dataclass
class _Read:
    """Activities read for a pass, their parties, and those with unreadable times."""

    activities: Iterable[ActivityRow]  # streamed for a full pass
    parties: dict[str, list[ActivityPartyRow]]
    unreadable: list[Unreadable]

    @property
    def ids(self) -> set[str]:
        """Only of an incremental read (a list)."""
        return {row.id for row in self.activities} | {row.id for row, _ in self.unreadable}


def _read_all(session: Session) -> _Read:
    unreadable: list[Unreadable] = []
    rows = iter_activities(session=session, unreadable=unreadable)
    return _Read(rows, parties_by_activity(session=session), unreadable)


def _read_some(session: Session, ids: set[str], where: str) -> _Read:
    """The activities of `ids` and those `where` (SQL), each once, by id."""
    unreadable: list[Unreadable] = []
    found = {
        row.id: row for row in activities_by_id(session=session, ids=ids, unreadable=unreadable)
    }
    if where:
        more = iter_activities(session=session, unreadable=unreadable, where=where)
        found.update((row.id, row) for row in more if row.id not in found)
    unique = {item[0].id: item for item in unreadable if item[0].id not in found}
    read = _Read([found[key] for key in sorted(found)], {}, list(unique.values()))
    read.parties = parties_by_activity(session=session, ids=read.ids)
    return read


def _scan(
    session: Session,
    report: CrmIngestReport,
    not_before: datetime | None,
    window: TimeWindow,
    previous: dict[str, ActivityDigest],
    read: _Read | None = None,
) -> _Scan:
    """Derive every activity whose digest differs from `previous` (all, if it is empty),
    among every activity, or those `read`.

    `previous` is consumed: what is left afterwards are deleted activities.
    """
    directory = kept_directory(session=session)
    covered = exchange_covered_users(session=session)
    context = _Context(directory, covered, not_before, window)
    digester = Digester(directory, covered, not_before, window)
    scan = _Scan()
    scan.partial = read is not None
    read = _read_all(session) if read is None else read
    parties, unreadable = read.parties, read.unreadable
    for activity in read.activities:
        report.activities += 1
        scan.read.add(activity.id)
        own_parties = parties.get(activity.id, [])
        digest = digester.digest(activity, own_parties)
        before = previous.pop(activity.id, None)
        if before is not None and before.digest == digest:
            scan.skipped += 1
            scan.unchanged_outcomes[before.outcome] += 1
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
        else:
            scan.recheck.add(activity.id)
            scan.undigested[outcome] += 1
    for row, columns in unreadable:
        report.activities += 1
        scan.read.add(row.id)
        _forget(scan, row, previous.pop(row.id, None))
        problems = [
            RowProblem("crm_activity", row.id, column, getattr(row, column), "a timestamp")
            for column in columns
        ]
        _reject(scan, report, row, problems)
    for gone in previous.values():
        scan.derived.append(gone.activity_id)
        scan.forgotten[gone.outcome] += 1
        if gone.interaction_key is not None:
            scan.affected.add(gone.interaction_key)
    scan.affected |= scan.rejected
    report.unchanged = scan.skipped
    return scan


def _forget(scan: _Scan, activity: ActivityRow, before: ActivityDigest | None) -> None:
    """The activity is derived again: its old digest goes, its old interaction may change."""
    scan.derived.append(activity.id)
    if before is None:
        return
    scan.forgotten[before.outcome] += 1
    if before.interaction_key is not None:
        scan.affected.add(before.interaction_key)


def _reject(
    scan: _Scan, report: CrmIngestReport, activity: ActivityRow, problems: list[RowProblem]
) -> None:
    """A skipped row: reported, and what is stored for it stays (no digest is kept)."""
    for problem in problems:
        report.problems.add(problem)
    scan.rejected.add(interaction_key(activity))
    scan.recheck.add(activity.id)


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
    engine: Engine,
    *,
    not_before: datetime | None = None,
    now: datetime | None = None,
    full: bool = False,
    bulk: bool = True,
) -> CrmIngestReport:
    """`not_before`: the retention cutoff (now minus the interaction window); the caller
    reads it from the settings, storage does not. `now`: the run's now, which the
    rules judge times after it by (a completed activity dated later is skipped);
    without it only the bounds that do not move with the clock are checked.

    Only activities whose inputs changed since the last run are derived again
    (storage.crm_digests), and, between full passes, only those the change logs
    name are read (storage.tick_changes); the result is the one a full pass
    would give. `full`: read every activity (the digests still skip the unchanged).
    A first ingest on PostgreSQL derives the clean activities in SQL
    (storage.crm_bulk_ingest); `bulk=False` derives every one in Python (the
    reference the tests hold it to).
    The records the written interactions name are left in tick_pending_record.
    """
    with session_scope(engine) as session:
        window = TimeWindow.around(now)
        deletes = Deletes()  # SQLite: run once the transaction writes (lock_all_interactions)
        tables = frozenset(take_record_changes(session, deletes))
        people = take_person_changes(session, deletes)
        tables |= _erased_people(session, people)
        state = read_state(session)
        context = context_fingerprint(exchange_covered_users(session=session), not_before, window)
        # The digests by outcome as this pass finds them: the base of an incremental pass,
        # and of its report (`_Scan.unchanged_outcomes`: those a pass leaves alone).
        outcomes_before = (
            None if full or DIGEST_TABLE in tables else _outcomes_before(session, state)
        )
        tables -= {DIGEST_TABLE}
        scan: _Scan | None = None
        foreign = InteractionChanges()
        logged: set[str] | None = None
        if _may_go_incremental(state, context, tables, full, outcomes_before):
            logged = take_activity_changes(session, deletes)
        else:  # every activity is read: which ones the log names does not matter
            forget_activity_changes(session, deletes)
        if logged is not None and len(logged) <= INCREMENTAL_LIMIT:
            # Exchange pages wait from here: what they wrote before is in the log.
            lock_all_interactions(session)
            deletes.done(session)
            foreign = take_interaction_changes(session)
            logged |= activities_naming(session, people)
            found = _incremental_scan(session, not_before, window, state, logged, foreign)
            if found is not None:
                report, scan = found
        first = False
        if scan is None:
            report = CrmIngestReport()
            previous = load_digests(session=session)
            if not previous and is_postgres(session) and bulk:
                # Nothing derived yet: every key held from before the check that nothing
                # is stored, so no Exchange page writes while the SQL pass runs.
                lock_all_interactions(session)
                deletes.done(session)
                first = _nothing_stored(session)
                if first:
                    _take_foreign(session, foreign)
                    scan = _bulk_scan(session, report, not_before, window)
        if scan is None:
            scan = _scan(session, report, not_before, window, previous)
            # An Exchange sync (on another replica) may be committing the same `msg:` keys:
            # hold every key (one lock) from before the checks until this transaction ends.
            lock_all_interactions(session)
            deletes.done(session)
            _take_foreign(session, foreign)
            if scan.incremental and not _still_holds(session, scan):
                report = CrmIngestReport()
                scan = _scan(session, report, not_before, window, {})
            first = _nothing_stored(session)
        report.tables_changed = tables
        # The records the rows named, before and after, and the people written with the
        # accounts they left or joined: scored by this tick (worker.run.tick).
        # A log row per interaction written, read back at once, costs more than naming
        # the records from the rows in hand (a first ingest: one statement names them all).
        # The digests are written paused too: the pass counts what it writes itself.
        with paused_interaction_log(session):
            written = _write(session, scan, report)
            _write_digests(session, scan)
        add_pending(session, foreign.refs | people.refs | (set() if first else written))
        if first:
            pend_every_stored_record(session)
        # A pass that read every activity knows every row with a problem (a deleted one too).
        partial = scan.partial and not scan.in_bulk
        replace_rechecks(session, forget=scan.derived if partial else None, add=scan.recheck)
        outcomes = _outcomes_left(report, scan, outcomes_before)
        if report.incremental:
            _count_everything(session, report, scan, outcomes)
        write_state(
            session,
            crm_context=context,
            crm_not_before=not_before,
            crm_completed_until=window.completed_until,
            crm_latest=window.latest,
            crm_digests=digest_count(session=session) if outcomes is None else outcomes.total(),
            crm_outcomes=None if outcomes is None else dict(sorted(outcomes.items())),
            regrade_due=state.regrade_due or bool(tables),
        )
    return report


def _outcomes_before(session: Session, state: TickMemory) -> Counter[str]:
    """The digests by outcome as the last pass left them: kept in tick_state, counted
    (a scan of every digest, 0.16-0.22 s at 1M) only where no pass has kept them yet
    (the first pass after migration 0016) or they did not add up."""
    if state.crm_outcomes is not None:
        return Counter(state.crm_outcomes)
    return Counter(outcome_counts(session=session))


def _write_digests(session: Session, scan: _Scan) -> None:
    if scan.incremental:
        write_digests(session=session, rows=scan.digests, forget=scan.derived)
    else:
        replace_digests(session=session, rows=scan.digests, forget=None)


def _outcomes_left(
    report: CrmIngestReport, scan: _Scan, outcomes_before: Counter[str] | None
) -> Counter[str] | None:
    """The digests the pass leaves, by outcome, from what it wrote rather than by counting
    them again; None when they do not add up (the next pass counts them).

    An incremental pass: those it began from (`outcomes_before`: kept in tick_state, so
    they are the last pass's total; a digest written by anyone else is caught by migration
    0016's trigger, not by them), less those it dropped, plus those it wrote. A pass
    that read every activity: those it left as they were, plus those it wrote. A first
    ingest in SQL: those the SQL wrote (a digest for each activity it derived, counted by
    outcome: storage.crm_bulk_ingest), plus those of the rest, derived here.
    """
    if scan.in_bulk:
        left = Counter(scan.bulk_outcomes)
    elif report.incremental:
        assert outcomes_before is not None  # an incremental pass needs it (_may_go_incremental)
        left = Counter(outcomes_before)
        left.subtract(scan.forgotten)
    else:
        left = Counter(scan.unchanged_outcomes)
    left.update(digest.outcome for digest in scan.digests)
    if any(count < 0 for count in left.values()):
        return None  # they did not hold: counted again next time
    return +left


def _erased_people(session: Session, people: PersonChanges) -> frozenset[str]:
    """The tables of people written who carry an erased id or address, as they were or
    are: they left the directory or came into it as erased, which moves every activity
    regarding them too; their tables count as changed (a full pass and a regrade)."""
    if not people.images:
        return frozenset()
    erased = load_suppression(session=session)
    return frozenset(
        image.record_type
        for image in people.images
        if erased.holds(image.record_type, image.record_id, image.addresses)
    )


def _take_foreign(session: Session, foreign: InteractionChanges) -> None:
    """What other writers (Exchange, retention, erasure) logged, added to `foreign`."""
    taken = take_interaction_changes(session)
    foreign.keys |= taken.keys
    foreign.refs |= taken.refs


def _bulk_scan(
    session: Session, report: CrmIngestReport, not_before: datetime | None, window: TimeWindow
) -> _Scan:
    """A first ingest on PostgreSQL: the clean activities derived and written in SQL, the
    rest (rows with a problem, unusual text) read and derived here."""
    written = ("interaction", "interaction_party", "crm_activity_digest")
    with paused_interaction_log(session), indexes_built_after(session, written):
        bulk = bulk_first_ingest(
            session,
            directory=kept_directory(session=session),
            covered=exchange_covered_users(session=session),
            not_before=not_before,
            window=window,
        )
    report.activities += bulk.derived
    report.bulk = bulk.derived
    report.covered_by_exchange += bulk.outcomes.get("covered", 0)
    report.beyond_retention += bulk.outcomes.get("beyond_retention", 0)
    scan = _scan(session, report, not_before, window, {}, _read_some(session, bulk.rest, ""))
    scan.in_bulk = True
    scan.bulk_added, scan.bulk_derived = bulk.outcomes.get("interaction", 0), bulk.derived
    scan.bulk_outcomes.update(bulk.outcomes)
    return scan


def _write(session: Session, scan: _Scan, report: CrmIngestReport) -> set[Ref]:
    """Make the stored CRM interactions what the pass derived; the records the rows
    written named, as they were and as they are (what the change log would have said)."""
    stored = _stored_records(session, scan)
    desired = scan.desired
    shared = [key for key in desired.keys() | stored.keys() if key.startswith("msg:")]
    for key in _seen_by_exchange(session, shared):
        desired.pop(key, None)
        stored.pop(key, None)  # Exchange replaced the CRM copy after it was read
    keep = frozenset(scan.rejected)
    written = {key for key, record in desired.items() if stored.get(key) != record}
    written.update(key for key in stored if key not in desired and key not in keep)
    report.counts = sync_records(session=session, desired=desired, stored=stored, keep=keep)
    report.counts.unchanged += scan.unchanged_interactions
    report.counts.added += scan.bulk_added
    report.derived = len(scan.derived) + scan.bulk_derived
    return {ref for key in written for ref in _named(stored.get(key), desired.get(key))}


def _named(*records: InteractionRecord | None) -> Iterator[Ref]:
    """The records these interactions name: their parties and their "regarding" record."""
    for record in records:
        if record is None:
            continue
        yield from ((party.record_type, party.record_id) for party in record.parties)
        if record.regarding_type and record.regarding_id:
            yield record.regarding_type, record.regarding_id


def _may_go_incremental(
    state: TickMemory,
    context: str,
    tables: frozenset[str],
    full: bool,
    outcomes_before: Counter[str] | None,
) -> bool:
    """Whether the last pass left a base that the change logs may bring up to date
    (if they name few enough activities): `outcomes_before`, the digests by outcome, are as many
    as it left (None: nobody can tell, the digests were written by someone else)."""
    return (
        not full
        and state.crm_context == context
        and not tables & FULL_PASS_TABLES
        and outcomes_before is not None
        and state.crm_digests == outcomes_before.total()
    )


def _nothing_stored(session: Session) -> bool:
    """No interaction at all (from any source), in a transaction holding every key."""
    return session.scalar(sa.text("SELECT 1 FROM interaction LIMIT 1")) is None


def _incremental_scan(
    session: Session,
    not_before: datetime | None,
    window: TimeWindow,
    state: TickMemory,
    logged: set[str],
    foreign: InteractionChanges,
) -> tuple[CrmIngestReport, _Scan] | None:
    """Derive what changed; None when that is too much for reading by id."""
    where = _crossed_bounds(
        is_postgres(session),
        ((state.crm_not_before, not_before),),
        ((state.crm_completed_until, window.completed_until), (state.crm_latest, window.latest)),
    )
    # Activities whose interaction someone else wrote are derived whatever their digest.
    forced = set(digests_of_keys(session=session, keys=foreign.keys))
    rechecked = rechecks(session)
    ids = logged | rechecked | forced
    for _round in range(3):
        if len(ids) > INCREMENTAL_LIMIT:
            return None
        report = CrmIngestReport(incremental=True)
        read = _read_some(session, ids, where)
        previous = load_digests(session=session, ids=ids | read.ids)
        for activity_id in forced & previous.keys():
            previous[activity_id] = previous[activity_id]._replace(digest="")
        scan = _scan(session, report, not_before, window, previous, read)
        # Another activity that shares an interaction key with one derived here (one
        # email tracked twice) is derived with it, as a full pass would.
        derived = set(scan.derived)
        keys = _shareable(scan.affected | scan.desired.keys(), derived)
        sharing = set(digests_of_keys(session=session, keys=keys)) - derived
        if rechecked - scan.read:
            return None  # a row with a problem is gone: what was kept for it goes in a full pass
        if not sharing:
            return report, scan
        forced |= sharing
        ids |= sharing
    return None


def _shareable(keys: Iterable[str], derived: set[str]) -> list[str]:
    """The interaction keys another activity may hold: `crm:<id>` is only ever activity
    <id>'s (crm_activity_rules.interaction_key), so with <id> derived, none other's.
    At 1M a 1 % tick looked up 10,000 such keys (~0.3 s) to find nothing."""
    return [key for key in keys if not (key.startswith("crm:") and key[4:] in derived)]


def _crossed_bounds(
    postgres: bool,
    cutoffs: tuple[tuple[datetime | None, datetime | None], ...],
    bounds: tuple[tuple[datetime | None, datetime | None], ...],
) -> str:
    """SQL for the activities whose time lies between a bound's last value and this one's
    (the digest holds which side of each bound an activity's time falls on).

    PostgreSQL compares timestamps; SQLite keeps what the CRM wrote as text,
    so whole days are compared there, a day wider on each side for offsets.
    PostgreSQL reads the range from the index on the activities' time (migration 0016).
    """
    time = "COALESCE(start_at, end_at)"  # as indexed on PostgreSQL (migration 0016)
    ranges = []
    for before, after in (*cutoffs, *bounds):
        if before is None or after is None or before == after:
            continue
        low, high = sorted((before, after))
        if postgres:
            margin = timedelta(minutes=1)
            ranges.append(
                f"({time} >= '{(low - margin).isoformat()}'"
                f" AND {time} <= '{(high + margin).isoformat()}')"
            )
        else:
            first = (low - timedelta(days=1)).date().isoformat()
            last = (high + timedelta(days=1)).date().isoformat()
            ranges.append(f"(substr({time}, 1, 10) BETWEEN '{first}' AND '{last}')")
    return " OR ".join(ranges)


def _count_everything(
    session: Session, report: CrmIngestReport, scan: _Scan, left: Counter[str] | None
) -> None:
    """An incremental pass read few activities: the report counts them all, as a full
    pass does (the outcomes kept in the digests, and those of rows with problems).

    From the digests the pass leaves (`left`, by outcome: `_outcomes_left`), not by
    counting the book again: every activity has either a digest or, with a problem, a
    recheck row (never both), so the activities are the digests and the rechecks left.
    """
    outcomes = Counter(outcome_counts(session=session)) if left is None else Counter(left)
    digests = outcomes.total()
    outcomes.update(scan.undigested)
    report.covered_by_exchange = outcomes["covered"]
    report.beyond_retention = outcomes["beyond_retention"]
    report.activities = digests + recheck_count(session)
    report.unchanged = report.activities - len(scan.read.intersection(scan.derived))
    counts = report.counts
    counts.unchanged = outcomes["interaction"] - counts.added - counts.updated

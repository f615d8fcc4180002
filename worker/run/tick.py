"""One tick of the pipeline: Exchange (where allowed), CRM activities, score, write back.

`run_tick` is the whole tick: the Exchange round (consent, data residency,
delta sync) and then `run_once`, the CRM-data path plus scoring and
write-back. `rapport run --once`, `rapport demo` and the scheduler call
them; both take the clock as an argument so runs are reproducible.

A tick does work in proportion to what changed (docs/deploy.md, "Ticks"):
the CRM path reads what the change logs name (storage.crm_ingest), and
scoring takes only the records whose interactions changed, and the contacts
and leads written (with the accounts a contact left or joined), with the
accounts and deals they roll up into (`touched_records`), and ranks the
introducers of the contacts and leads among them. Every record is
regraded when `regrade_every` has passed since the last full regrade, when
the admin settings or the excluded users changed, when any other CRM record
table changed or a contact or lead was deleted (a deal's status or
stakeholders, a user's team: the scopes move), or on request (`full`). A
tick with nothing of this skips scoring and write-back: the stored health
stays, and the summary says so. Scoring is a pure function of a record's
interactions, its scope, the settings and `now`, so a record scored between
regrades holds what a regrade at that same `now` would give it; what ages is
only the time decay and the trend window, and no stored score is older than
`regrade_every`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

import scoring
from compliance.late_writes import erasures_outlast_round, erasures_outlast_run
from compliance.retention import INTERACTION_DAYS
from graph_sync.tenant import Claim
from scoring.model import RecordRef, RecordScope, RecordType
from storage.crm_ingest import CrmIngestReport, ingest_crm_activities
from storage.crm_problems import RowProblems
from storage.crm_records import load_crm_snapshot
from storage.engine import session_scope
from storage.introducer_optout_read import excluded_colleagues
from storage.planner_statistics import refresh_interaction_statistics
from storage.suppression import (
    SuppressionMark,
    forget_late_health,
    listed_since,
    suppression_mark,
)
from storage.tick_changes import (
    Ref,
    forget_interaction_changes,
    forget_pending,
    pending_records,
    read_state,
    stored_interactions,
    write_state,
)
from storage.writeback import DEFAULT_BATCH_SIZE, WritebackCounts
from worker.admin_settings import current_settings
from worker.failures import EXIT_EXCHANGE_FAILED, EXIT_OK
from worker.run import results, scopes
from worker.run.book_cache import KeptBook
from worker.run.dataverse import after_scoring, before_scoring
from worker.run.exchange import ExchangeSummary, exchange_round
from worker.run.gc_pause import collection_paused
from worker.run.introducers import IntroducerSummary, introducer_ranking, store_introducers
from worker.run.scopes import build_scopes
from worker.run.scoring import Progress, score_and_write
from worker.run.scoring_processes import usable_processes
from worker.settings import REGRADE_EVERY, Settings

log = logging.getLogger(__name__)
PROBLEMS_SHOWN = 5  # CRM row problems logged in full; all are counted


@dataclass
class RunSummary:
    now: datetime
    ingest: CrmIngestReport
    interactions: int = 0
    records_scored: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    writeback: WritebackCounts = field(default_factory=WritebackCounts)
    seconds: dict[str, float] = field(default_factory=dict)
    exchange: ExchangeSummary | None = None
    introducers: IntroducerSummary | None = None
    dataverse: dict[str, Any] | None = None  # RAPPORT_CRM=dataverse: pull and push
    # "regrade": every record; "changed": the records whose interactions changed;
    # "skipped": nothing changed, no regrade due (the stored health stays).
    scoring: str = "regrade"
    regrade_reason: str | None = None  # why every record was scored
    # The service's kept book (worker.run.book_cache): "whole" or "patched: N rows".
    book: str | None = None

    @property
    def failure(self) -> str | None:
        """What failed as a whole, first in the summary: the Exchange sync, for now."""
        return self.exchange.failure if self.exchange is not None else None

    @property
    def exit_code(self) -> int:
        """`run --once` exits 5 when Exchange was to be read and nothing could be."""
        return EXIT_EXCHANGE_FAILED if self.failure is not None else EXIT_OK


def run_once(
    engine: Engine,
    *,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    retention_days: int = INTERACTION_DAYS,
    processes: int = 1,
    excluded_users: tuple[str, ...] = (),
    admin: Mapping[str, Any] | None = None,
    regrade_every: timedelta | None = REGRADE_EVERY,
    full: bool = False,
    book: KeptBook | None = None,
) -> RunSummary:
    """CRM path, score, write back, under the admin settings `admin` (read from the
    store once, here, when the caller has not read them for the whole tick). CRM
    activities older than `retention_days` are not taken in, so a retention purge
    stays done while the CRM keeps old activities.
    `processes` > 1 (or 0: one per CPU) scores in forked processes on PostgreSQL.
    `excluded_users` (RAPPORT_EXCLUDED_USERS) never appear as introducers.
    `regrade_every` (RAPPORT_REGRADE_EVERY): between full regrades only the records
    whose interactions changed are scored; None (or 0) regrades on every call. `full`: read
    every CRM activity and regrade every record now. `book`: the book kept from the last
    call (RAPPORT_KEEP_BOOK, worker.run.book_cache), read from it and left in it."""
    mark = _erasure_mark(engine)
    if book is not None:
        book.forget_after_erasure(mark)  # erased data goes before anything else runs
    try:
        # A subject erased while the run is in flight is erased again when it ends.
        with collection_paused(), erasures_outlast_run(engine, now=now):
            return _run_once(
                engine,
                now=now,
                batch_size=batch_size,
                progress=progress,
                retention_days=retention_days,
                processes=processes,
                excluded_users=excluded_users,
                admin=current_settings(engine) if admin is None else admin,
                regrade_every=regrade_every,
                full=full,
                book=book,
                erasures=mark,
            )
    finally:
        _forget_changes_after_erasure(engine, mark)
        if book is not None:  # a subject erased while the tick ran
            book.forget_after_erasure(_erasure_mark(engine))


def _erasure_mark(engine: Engine) -> SuppressionMark:
    with session_scope(engine) as session:
        return suppression_mark(session=session)


def _forget_changes_after_erasure(engine: Engine, mark: SuppressionMark) -> None:
    """The change logs keep the parties of interactions written or deleted; after an
    erasure that the run's end applied again, some of those name the subject. An
    erasure empties them when it commits (migration 0012); this empties what the run
    and its final sweep logged since, and the next tick is a full pass and regrade."""
    with session_scope(engine) as session:
        if listed_since(session=session, mark=mark):
            forget_interaction_changes(session)


def _run_once(
    engine: Engine,
    *,
    now: datetime,
    batch_size: int,
    progress: Progress | None,
    retention_days: int,
    processes: int,
    excluded_users: tuple[str, ...],
    admin: Mapping[str, Any],
    regrade_every: timedelta | None,
    full: bool,
    book: KeptBook | None,
    erasures: SuppressionMark,
) -> RunSummary:
    clock = time.perf_counter
    started = clock()
    not_before = now - timedelta(days=retention_days)
    ingest = ingest_crm_activities(engine, not_before=not_before, now=now, full=full)
    summary = RunSummary(now=now, ingest=ingest)
    counts = summary.ingest.counts
    # Rows written or removed (an updated interaction is rewritten in place, a new row
    # version all the same): the planner's statistics follow large changes.
    changed = counts.added + counts.updated + counts.removed
    refresh_interaction_statistics(engine, changed_rows=changed)
    with session_scope(engine) as session:
        state = read_state(session)
        pending = pending_records(session)
        # Who may not appear as an introducer (opt-outs, disabled users, excluded mailboxes):
        # read once, for the fingerprint and for the ranking.
        excluded = excluded_colleagues(session=session, configured=excluded_users, now=now)
    fingerprint = settings_fingerprint(admin, excluded)
    summary.regrade_reason = (
        "requested"
        if full
        else regrade_due(
            state.regraded_at,
            state.settings_fingerprint,
            state.regrade_due,
            fingerprint,
            now=now,
            every=regrade_every,
        )
    )
    summary.seconds["ingest"] = clock() - started
    if summary.regrade_reason is None and not pending:
        summary.scoring = "skipped"
        _log_problems(ingest.problems)
        with session_scope(engine) as session:
            summary.interactions = stored_interactions(session=session)
        return summary

    started = clock()
    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session, now=now, problems=ingest.problems)
    _log_problems(ingest.problems)
    scopes = list(build_scopes(crm))  # once: for what the changes touch and for scoring
    records = None if summary.regrade_reason else touched_records(scopes, pending)
    summary.scoring = "regrade" if records is None else "changed"
    summary.seconds["load"] = clock() - started

    started = clock()
    # Introducers: the whole book's at a regrade, else those of the contacts and leads scored.
    ranking = introducer_ranking(
        engine, now=now, excluded_users=excluded_users, crm=crm, admin=admin, excluded=excluded
    )
    if ranking is not None and records is not None:
        # A lead no longer open keeps its health but, as at a regrade, no introducers.
        ranking = ranking.forgetting(people_among(pending)).within(records)
    # A scheduled or requested regrade reads the book afresh (its codes start anew).
    whole = summary.regrade_reason in FRESH_BOOK
    read_book = (
        None if book is None else functools.partial(book.read, erasures=erasures, whole=whole)
    )
    stages: dict[str, float] = {}
    scored = score_and_write(
        engine,
        crm,
        now=now,
        batch_size=batch_size,
        processes=usable_processes(engine, processes),
        progress=progress,
        admin=admin,
        introducers=ranking,
        records=records,
        scopes=scopes,
        read_book=read_book,
        stages=stages,
    )
    summary.book = None if book is None else book.last_read
    summary.seconds.update(stages)
    summary.interactions = scored.interactions
    summary.records_scored, summary.by_state = scored.records_scored, scored.by_state
    summary.writeback = scored.writeback
    # Each process ranks introducers after its write-back: the health is all
    # written when the last process has written it.
    summary.seconds["score_and_write"] = scored.written_at - started
    summary.introducers = store_introducers(engine, ranking, scored.introducers)
    summary.seconds["introducers"] = clock() - scored.written_at
    with session_scope(engine) as session:
        # What an earlier run wrote for a subject erased while it ran, when it died
        # before its sweep (this run's own late writes go in erasures_outlast_run's).
        forget_late_health(session=session)
        forget_pending(session, pending)  # scored; any that came since wait for the next tick
        if records is None:
            write_state(
                session, regraded_at=now, settings_fingerprint=fingerprint, regrade_due=False
            )
    return summary


def settings_fingerprint(admin: Mapping[str, Any], excluded: Iterable[str]) -> str:
    """What every score rests on besides interactions, CRM records and now: the
    settings, the colleagues kept out of introductions, and the code that scores
    (a release that changes it regrades)."""
    text = json.dumps([sorted(admin.items()), sorted(excluded)], default=str)
    hasher = hashlib.blake2b(text.encode(), digest_size=16)
    hasher.update(scoring_code_fingerprint().encode())
    return hasher.hexdigest()


@functools.cache
def scoring_code_fingerprint() -> str:
    """A digest of the modules that turn interactions into stored values (their sources)."""
    files = sorted(
        path
        for path in Path(scoring.__file__).parent.rglob("*")
        if path.suffix == ".py" and "__pycache__" not in path.parts
    )
    files += [Path(module.__file__ or "") for module in (scopes, results)]
    hasher = hashlib.blake2b(digest_size=16)
    for path in files:
        hasher.update(path.name.encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def regrade_due(
    regraded_at: datetime | None,
    fingerprint: str | None,
    records_changed: bool,
    current: str,
    *,
    now: datetime,
    every: timedelta | None,
) -> str | None:
    """Why every record must be scored this tick (None: only what changed)."""
    if not every or regraded_at is None:
        return "every run" if not every else "first run"
    if fingerprint != current:
        return "settings changed"
    if records_changed:
        return "CRM records changed"
    if not regraded_at <= now < regraded_at + every:
        return "scheduled"
    return None


def touched_records(scopes: Iterable[RecordScope], touched: set[Ref]) -> frozenset[RecordRef]:
    """The records whose scores `touched` feed (the records changed interactions named,
    the contacts and leads written and the accounts a contact left or joined): those
    records themselves, every record whose people include one of them, and so the
    accounts and deals their health rolls up into (worker.run.scopes)."""
    refs = {RecordRef(RecordType(kind), key) for kind, key in touched if kind in RECORD_TYPES}
    records = set()
    for scope in scopes:
        if (
            scope.record in refs
            or not refs.isdisjoint(scope.people)
            or any(person in refs for person, _role in scope.roles)
        ):
            records.add(scope.record)
    return frozenset(records)


FRESH_BOOK = frozenset({"scheduled", "requested"})
RECORD_TYPES = frozenset(kind.value for kind in RecordType)
PEOPLE_TYPES = frozenset({RecordType.CONTACT.value, RecordType.LEAD.value})


def people_among(refs: Iterable[Ref]) -> set[RecordRef]:
    """The contacts and leads among pending refs (whoever writes them, whatever they hold)."""
    return {RecordRef(RecordType(kind), key) for kind, key in refs if kind in PEOPLE_TYPES}


def _log_problems(problems: RowProblems) -> None:
    """CRM values outside the contract: a count by column, then the first few, a line each."""
    if problems:
        log.warning("CRM rows: %s", problems.headline())
    for problem in problems.examples[:PROBLEMS_SHOWN]:
        log.warning("CRM row: %s", problem)


async def sync_exchange(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    claim: Claim | None = None,
    stopping: asyncio.Event | None = None,
    admin: Mapping[str, Any] | None = None,
) -> ExchangeSummary:
    """The Exchange half of a tick, honouring the admin's Exchange switch (in `admin`,
    or read from the store when the caller has not read the settings for the tick).

    `claim` filters mailboxes to this replica's leases; `stopping` ends the
    round between pages on shutdown. The service calls this directly so that
    scoring can run on one replica only.
    """
    mark = await asyncio.to_thread(_erasure_mark, engine)
    try:
        # Like run_once: a subject erased during the round is erased again when it ends.
        async with erasures_outlast_round(engine, now=now):
            values = (
                admin if admin is not None else await asyncio.to_thread(current_settings, engine)
            )
            return await exchange_round(
                engine,
                settings,
                now,
                enabled=bool(values["switch.exchange_data_source"]),
                claim=claim,
                stopping=stopping,
                progress=progress,
            )
    finally:
        await asyncio.to_thread(_forget_changes_after_erasure, engine, mark)


async def run_tick(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    claim: Claim | None = None,
    stopping: asyncio.Event | None = None,
    full: bool = False,
) -> RunSummary:
    """The whole tick: `sync_exchange`, then `run_once` (CRM path, score, write back);
    `full`: regrade every record whatever RAPPORT_REGRADE_EVERY says."""
    # RAPPORT_CRM=dataverse: pull first, push after write-back (docs/dataverse.md).
    dataverse = await before_scoring(engine, settings, now=now)
    admin = await asyncio.to_thread(current_settings, engine)  # once for the whole tick
    started = time.perf_counter()
    exchange = await sync_exchange(
        engine, settings, now=now, progress=progress, claim=claim, stopping=stopping, admin=admin
    )
    exchange_seconds = time.perf_counter() - started
    summary = await asyncio.to_thread(
        run_once,
        engine,
        now=now,
        batch_size=settings.writeback_batch_size,
        progress=progress,
        retention_days=settings.retention_interaction_days,
        processes=settings.scoring_processes,
        excluded_users=settings.excluded_users,
        admin=admin,
        regrade_every=settings.regrade_every,
        full=full,
    )
    summary.exchange = exchange
    summary.seconds = {"exchange": exchange_seconds, **summary.seconds}
    summary.dataverse = await after_scoring(engine, settings, dataverse, now=now)
    return summary

"""One tick of the pipeline: Exchange (where allowed), CRM activities, score, write back.

`run_tick` is the whole tick: the Exchange round (consent, data residency,
delta sync) and then `run_once`, the CRM-data path plus scoring and
write-back. `rapport run --once`, `rapport demo` and the scheduler call
them; both take the clock as an argument so runs are reproducible.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from compliance.late_writes import erasures_outlast_round, erasures_outlast_run
from compliance.retention import INTERACTION_DAYS
from graph_sync.tenant import Claim
from storage.crm_ingest import CrmIngestReport, ingest_crm_activities
from storage.crm_problems import RowProblems
from storage.crm_records import load_crm_snapshot
from storage.engine import session_scope
from storage.planner_statistics import refresh_interaction_statistics
from storage.suppression import forget_late_health
from storage.writeback import DEFAULT_BATCH_SIZE, WritebackCounts
from worker.admin_settings import current_settings
from worker.failures import EXIT_EXCHANGE_FAILED, EXIT_OK
from worker.run.dataverse import after_scoring, before_scoring
from worker.run.exchange import ExchangeSummary, exchange_round
from worker.run.gc_pause import collection_paused
from worker.run.interactions import fetch_interaction_rows
from worker.run.introducers import IntroducerSummary, introducer_ranking, store_introducers
from worker.run.scoring import Progress, score_and_write
from worker.run.scoring_processes import usable_processes
from worker.settings import Settings

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
) -> RunSummary:
    """CRM path, score, write back, under the admin settings `admin` (read from the
    store once, here, when the caller has not read them for the whole tick). CRM
    activities older than `retention_days` are not taken in, so a retention purge
    stays done while the CRM keeps old activities.
    `processes` > 1 (or 0: one per CPU) scores in forked processes on PostgreSQL.
    `excluded_users` (RAPPORT_EXCLUDED_USERS) never appear as introducers."""
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
        )


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
) -> RunSummary:
    clock = time.perf_counter
    started = clock()
    not_before = now - timedelta(days=retention_days)
    ingest = ingest_crm_activities(engine, not_before=not_before, now=now)
    summary = RunSummary(now=now, ingest=ingest)
    counts = summary.ingest.counts
    # An updated interaction is deleted and inserted again (storage.interaction_store).
    changed = counts.added + counts.updated + counts.removed
    refresh_interaction_statistics(engine, changed_rows=changed)
    summary.seconds["ingest"] = clock() - started

    started = clock()
    with session_scope(engine) as session:
        crm = load_crm_snapshot(session=session, now=now, problems=ingest.problems)
    _log_problems(ingest.problems)
    rows = fetch_interaction_rows(engine)
    summary.interactions = len(rows)
    summary.seconds["load"] = clock() - started

    started = clock()
    ranking = introducer_ranking(
        engine, now=now, excluded_users=excluded_users, crm=crm, admin=admin
    )
    scored = score_and_write(
        engine,
        crm,
        rows,
        now=now,
        batch_size=batch_size,
        processes=usable_processes(engine, processes),
        progress=progress,
        admin=admin,
        introducers=ranking,
    )
    del rows  # the raw rows are the run's largest object; storing introducers needs none
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
    return summary


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
    # Like run_once: a subject erased during the round is erased again when it ends.
    async with erasures_outlast_round(engine, now=now):
        values = admin if admin is not None else await asyncio.to_thread(current_settings, engine)
        return await exchange_round(
            engine,
            settings,
            now,
            enabled=bool(values["switch.exchange_data_source"]),
            claim=claim,
            stopping=stopping,
            progress=progress,
        )


async def run_tick(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    claim: Claim | None = None,
    stopping: asyncio.Event | None = None,
) -> RunSummary:
    """The whole tick: `sync_exchange`, then `run_once` (CRM path, score, write back)."""
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
    )
    summary.exchange = exchange
    summary.seconds = {"exchange": exchange_seconds, **summary.seconds}
    summary.dataverse = await after_scoring(engine, settings, dataverse, now=now)
    return summary
